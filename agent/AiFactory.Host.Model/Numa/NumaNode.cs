using AiFactory.Host.Model.Cpu;

namespace AiFactory.Host.Model.Numa;

/// <summary>A NUMA node from <c>/sys/devices/system/node/nodeN</c>.</summary>
public sealed record NumaNode
{
    /// <summary>The node id N.</summary>
    public required int Id { get; init; }

    /// <summary><c>cpulist</c>; empty for a CPU-less memory node (GPU memory on GH200/GB200, CXL).</summary>
    public required CpuSet Cpus { get; init; }

    /// <summary>MemTotal from the node's <c>meminfo</c>, in bytes; null when unknown (no readable meminfo), not 0.</summary>
    public long? MemoryTotalBytes { get; init; }

    /// <summary>MemFree from the node's <c>meminfo</c>, in bytes; null when unknown, as MemTotal.</summary>
    public long? MemoryFreeBytes { get; init; }

    /// <summary><c>distance</c>: the SLIT row, indexed by node position in the topology's node list.</summary>
    public IReadOnlyList<int> Distances { get; init; } = [];

    /// <summary>The node's hugepage pools, one per page size.</summary>
    public IReadOnlyList<HugepagePool> Hugepages { get; init; } = [];

    /// <summary>True when the node has CPUs.</summary>
    public bool HasCpus => !Cpus.IsEmpty;
}

/// <summary>One node's pool of one page size: <c>hugepages/hugepages-&lt;size&gt;kB/{nr,free,surplus}_hugepages</c>.</summary>
public sealed record HugepagePool(long PageSizeKiB, long Total, long Free, long Surplus);
