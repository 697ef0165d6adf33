using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Agent.Metrics.Sources;

/// <summary>The machine for one scrape: the discovered topology plus what only metrics read (AER counters).</summary>
internal sealed record NodeSnapshot
{
    public required HostTopology Topology { get; init; }

    /// <summary>AER counters by device, for devices whose sysfs has them.</summary>
    public IReadOnlyDictionary<PciAddress, AerCounters> Aer { get; init; } = new Dictionary<PciAddress, AerCounters>();

    /// <summary>CPUs the node profile keeps for the host (never leased); empty when no profile says so.</summary>
    public CpuSet HostReservedCpus { get; init; } = CpuSet.Empty;
}

/// <summary>Reads the node for one scrape.</summary>
internal interface INodeSnapshotSource
{
    /// <summary>The machine now; throwing marks the node collectors failed for this scrape.</summary>
    NodeSnapshot Read();
}
