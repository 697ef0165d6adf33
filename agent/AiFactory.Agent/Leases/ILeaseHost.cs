using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Agent.Leases;

/// <summary>
/// What the lease service needs to know about the machine, from the features that own each fact: the topology
/// (discovery), the host-reserved CPUs (node profile), the free MIG placements and GPU names (NVML), the unhealthy
/// GPUs (the GPU health watcher). A seam: the daemon wires the real sources; tests pass literal ones.
/// </summary>
internal interface ILeaseHost
{
    /// <summary>The machine now; null while discovery has none (leases are then refused with FailedPrecondition).</summary>
    HostTopology? Topology { get; }

    /// <summary>CPUs never handed out; empty when no profile reserves any.</summary>
    CpuSet HostReservedCpus { get; }

    /// <summary>
    /// Why <see cref="HostReservedCpus"/> cannot be trusted (the node profile is unreadable and no good reserved set
    /// was ever read from it); null when it can. Grants are refused with FailedPrecondition while it is set.
    /// </summary>
    string? HostReservedCpusUnknown => null;

    /// <summary>
    /// <see cref="HostReservedCpus"/> and <see cref="HostReservedCpusUnknown"/> from one read of their source, so
    /// that a grant plans with the set it checked (the node profile may change between two reads).
    /// </summary>
    ReservedCpus ReadHostReservedCpus() => new(HostReservedCpus, HostReservedCpusUnknown);

    /// <summary>Free MIG placements per GPU and profile; empty when no GPU is in MIG mode or NVML is absent.</summary>
    IReadOnlyList<MigCapacity> MigCapacity { get; }

    /// <summary>GPUs the health watcher marked unhealthy; leases never take them.</summary>
    IReadOnlySet<PciAddress> UnhealthyGpus => StaticLeaseHost.NoGpus;

    /// <summary>NVML's name of each GPU it sees (e.g. "NVIDIA H100 80GB HBM3"); empty without NVML.</summary>
    IReadOnlyDictionary<PciAddress, string> GpuNames => StaticLeaseHost.NoNames;

    /// <summary>
    /// The compute processes NVML reports on each GPU that runs any ("PID 4242 (python3)"), asked once per grant of
    /// whole GPUs: such a GPU is not leased. <c>Unavailable</c> says why NVML could not be asked (the grant then goes
    /// ahead unchecked, with a warning), as the node profile's vfio section does.
    /// </summary>
    (IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> Processes, string? Unavailable) ReadGpuProcesses() => (StaticLeaseHost.NoProcesses, null);
}

/// <summary>A fixed <see cref="ILeaseHost"/>: tests, benchmarks, and the daemon until discovery is wired.</summary>
internal sealed class StaticLeaseHost(HostTopology? topology, CpuSet? reserved = null, IReadOnlyList<MigCapacity>? mig = null) : ILeaseHost
{
    internal static readonly IReadOnlySet<PciAddress> NoGpus = new HashSet<PciAddress>();
    internal static readonly IReadOnlyDictionary<PciAddress, string> NoNames = new Dictionary<PciAddress, string>();
    internal static readonly IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> NoProcesses = new Dictionary<PciAddress, IReadOnlyList<string>>();

    public HostTopology? Topology { get; } = topology;

    public CpuSet HostReservedCpus { get; } = reserved ?? CpuSet.Empty;

    public string? HostReservedCpusUnknown { get; set; }

    public IReadOnlyList<MigCapacity> MigCapacity { get; } = mig ?? [];

    /// <summary>Settable: a test marks a GPU unhealthy as the watcher would.</summary>
    public IReadOnlySet<PciAddress> UnhealthyGpus { get; set; } = NoGpus;

    public IReadOnlyDictionary<PciAddress, string> GpuNames { get; set; } = NoNames;

    /// <summary>Settable: the processes a test's fake NVML reports per GPU.</summary>
    public IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> GpuProcesses { get; set; } = NoProcesses;

    /// <summary>Settable: why a test's NVML cannot be asked for processes; null when it can.</summary>
    public string? GpuProcessesUnavailable { get; set; }

    public (IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> Processes, string? Unavailable) ReadGpuProcesses() => (GpuProcesses, GpuProcessesUnavailable);
}
