using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Planning.Leases;

/// <summary>
/// Everything the lease planner may look at: the machine as discovery read it, the leases already granted, the
/// CPUs the node profile keeps for the host, what NVML says about free MIG placements and GPU names, and which GPUs
/// the health watcher marked unhealthy. Nothing else.
/// </summary>
/// <param name="Topology">The machine.</param>
/// <param name="Current">Plans of the leases that hold resources now.</param>
/// <param name="HostReservedCpus">CPUs never handed out (the node profile's housekeeping set); also where shared emulator threads run.</param>
/// <param name="MigCapacity">Free MIG placements per GPU and profile, from NVML; empty when no GPU is in MIG mode.</param>
/// <param name="HostReservedMemoryBytesPerNode">4K memory per CPU node kept for the host and hypervisor (not leased).</param>
/// <param name="UnhealthyGpus">GPUs the health watcher marked unhealthy: never leased, whole or as MIG instances.</param>
/// <param name="GpuNames">The NVML name of each GPU NVML sees (e.g. "NVIDIA H100 80GB HBM3"), a second name <c>--gpu-model</c> accepts.</param>
/// <param name="GpuProcesses">
/// The compute processes NVML reports on each GPU that runs any ("PID 4242 (python3)"): such a GPU is not leased whole
/// (binding it to vfio-pci would pull it from under them).
/// </param>
public sealed record PlanningContext(
    HostTopology Topology,
    IReadOnlyList<LeasePlan> Current,
    CpuSet HostReservedCpus,
    IReadOnlyList<MigCapacity>? MigCapacity = null,
    long HostReservedMemoryBytesPerNode = 0,
    IReadOnlySet<PciAddress>? UnhealthyGpus = null,
    IReadOnlyDictionary<PciAddress, string>? GpuNames = null,
    IReadOnlyDictionary<PciAddress, IReadOnlyList<string>>? GpuProcesses = null);

/// <summary>A plan, or the reason there is none.</summary>
public sealed record PlanResult(LeasePlan? Plan, LeaseRefusal? Refusal)
{
    /// <summary>True when planned.</summary>
    public bool Succeeded => Plan is not null;

    internal static PlanResult Ok(LeasePlan plan) => new(plan, null);

    internal static PlanResult Invalid(string field, string message) => new(null, new LeaseRefusal(RefusalKind.InvalidRequest, field, null, message));

    internal static PlanResult Short(string field, int? node, string message) => new(null, new LeaseRefusal(RefusalKind.Insufficient, field, node, message));

    internal static PlanResult InUse(string field, string message) => new(null, new LeaseRefusal(RefusalKind.InUse, field, null, message));
}
