using System.Collections.Frozen;

namespace AiFactory.Agent.Api.Access;

/// <summary>
/// Every gRPC method the agent serves, classified once: read-only, or changing the node. A method missing here is
/// refused over TCP to any client without a certificate, and a test enumerates the services of every proto file
/// (their generated descriptors) and fails the build's tests for a method this table does not name, so a new
/// method is classified when it is added, not after an audit.
/// </summary>
internal static class MethodAccessTable
{
    /// <summary>The full method name (<c>/package.Service/Method</c>) → what it does.</summary>
    public static readonly FrozenDictionary<string, MethodAccess> Methods = new Dictionary<string, MethodAccess>(StringComparer.Ordinal)
    {
        ["/grpc.health.v1.Health/Check"] = MethodAccess.ReadOnly,
        ["/grpc.health.v1.Health/Watch"] = MethodAccess.ReadOnly,

        ["/aifactory.agent.v1.Agent/GetVersion"] = MethodAccess.ReadOnly,
        ["/aifactory.agent.v1.Agent/GetStatus"] = MethodAccess.ReadOnly,

        ["/aifactory.agent.v1.Events/WatchEvents"] = MethodAccess.ReadOnly,

        ["/aifactory.agent.v1.Inventory/GetInventory"] = MethodAccess.ReadOnly,
        ["/aifactory.agent.v1.Inventory/GetTopology"] = MethodAccess.ReadOnly,
        ["/aifactory.agent.v1.Inventory/WatchInventory"] = MethodAccess.ReadOnly,

        ["/aifactory.agent.v1.Gpu/ListGpus"] = MethodAccess.ReadOnly,
        ["/aifactory.agent.v1.Gpu/GetMigLayout"] = MethodAccess.ReadOnly,
        ["/aifactory.agent.v1.Gpu/PlanMig"] = MethodAccess.ReadOnly,
        ["/aifactory.agent.v1.Gpu/ApplyMig"] = MethodAccess.ChangesNode,
        ["/aifactory.agent.v1.Gpu/SetMigMode"] = MethodAccess.ChangesNode,

        ["/aifactory.agent.v1.Leases/Lease"] = MethodAccess.ChangesNode,
        ["/aifactory.agent.v1.Leases/Release"] = MethodAccess.ChangesNode,
        ["/aifactory.agent.v1.Leases/AttachLease"] = MethodAccess.ChangesNode,
        ["/aifactory.agent.v1.Leases/GetLease"] = MethodAccess.ReadOnly,
        ["/aifactory.agent.v1.Leases/ListLeases"] = MethodAccess.ReadOnly,

        // PlanProfile writes nothing; the mig-parted file a profile names is read only from the confined directory.
        ["/aifactory.agent.v1.Profile/PlanProfile"] = MethodAccess.ReadOnly,
        ["/aifactory.agent.v1.Profile/GetProfile"] = MethodAccess.ReadOnly,
        ["/aifactory.agent.v1.Profile/ApplyProfile"] = MethodAccess.ChangesNode,
    }.ToFrozenDictionary(StringComparer.Ordinal);
}
