using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Agent.Leases;

/// <summary>
/// What the lease service needs to know about the machine, from the features that own each fact: the topology
/// (discovery), the host-reserved CPUs (node profile), the free MIG placements (NVML). A seam: the daemon wires
/// the real sources; tests pass literal ones.
/// </summary>
internal interface ILeaseHost
{
    /// <summary>The machine now; null while discovery has none (leases are then refused with FailedPrecondition).</summary>
    HostTopology? Topology { get; }

    /// <summary>CPUs never handed out; empty when no profile reserves any.</summary>
    CpuSet HostReservedCpus { get; }

    /// <summary>Free MIG placements per GPU and profile; empty when no GPU is in MIG mode or NVML is absent.</summary>
    IReadOnlyList<MigCapacity> MigCapacity { get; }
}

/// <summary>A fixed <see cref="ILeaseHost"/>: tests, benchmarks, and the daemon until discovery is wired.</summary>
internal sealed class StaticLeaseHost(HostTopology? topology, CpuSet? reserved = null, IReadOnlyList<MigCapacity>? mig = null) : ILeaseHost
{
    public HostTopology? Topology { get; } = topology;

    public CpuSet HostReservedCpus { get; } = reserved ?? CpuSet.Empty;

    public IReadOnlyList<MigCapacity> MigCapacity { get; } = mig ?? [];
}
