namespace AiFactory.Agent.Api.Access;

/// <summary>What a gRPC method does to the node, which decides who may call it over TCP (<see cref="MethodAccessTable"/>).</summary>
internal enum MethodAccess
{
    /// <summary>Reads state and changes nothing: served to any TCP client the listener accepts.</summary>
    ReadOnly,

    /// <summary>Changes the node (devices, MIG, leases, profile): over TCP only for a client with a validated certificate.</summary>
    ChangesNode,
}
