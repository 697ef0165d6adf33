using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Metrics.Sources;

/// <summary>One lease as the metrics see it: what it holds and for which VM.</summary>
internal sealed record LeaseSnapshot
{
    public required string Id { get; init; }

    /// <summary>The VM (libvirt domain) using the lease, when one is known.</summary>
    public string? VmName { get; init; }

    /// <summary>The lease's state (active, pending, releasing, ...), lower case.</summary>
    public required string State { get; init; }

    /// <summary>Host PCI functions the lease holds (GPUs, VFs, NVMe).</summary>
    public IReadOnlyList<PciAddress> Devices { get; init; } = [];

    /// <summary>CPUs the lease holds.</summary>
    public CpuSet Cpus { get; init; } = CpuSet.Empty;

    /// <summary>True when the CPUs are the lease's alone; false when they are shared.</summary>
    public bool DedicatedCpus { get; init; }

    /// <summary>NUMA nodes the lease's memory comes from.</summary>
    public IReadOnlyList<int> MemoryNumaNodes { get; init; } = [];

    /// <summary>Hugepages the lease holds, per node and size.</summary>
    public IReadOnlyList<LeaseHugepages> Hugepages { get; init; } = [];
}

/// <summary>Hugepages a lease holds on one node, of one size.</summary>
internal sealed record LeaseHugepages(int NumaNode, long PageSizeKiB, long Pages);

/// <summary>Reads the leases for one scrape.</summary>
internal interface ILeaseSource
{
    IReadOnlyList<LeaseSnapshot> Read();
}
