using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Planning.Leases;

/// <summary>
/// What is free on the host: a pure function of the topology, the current leases, the host-reserved CPUs and the
/// unhealthy GPUs (neither they nor their MIG capacity are offered).
/// Hugepage pools are taken as set aside for leases by the node profile (capacity = <c>free_hugepages</c> plus the
/// pages leases hold on that node, at most <c>nr_hugepages</c>);
/// 4K capacity is MemTotal less the hugepage pools and the host reserve.
/// </summary>
public sealed class HostUsage
{
    private readonly Dictionary<(int Node, PageSize Size), long> _usedBytes = [];

    /// <summary>Computes usage.</summary>
    public HostUsage(PlanningContext context)
    {
        Context = context;
        HostTopology topology = context.Topology;
        Index = TopologyIndex.Of(topology);
        Usable = topology.Cpus.Online.Except(context.HostReservedCpus);
        CpuSet claimed = CpuSet.Empty;
        foreach (LeasePlan plan in context.Current)
        {
            claimed = claimed.Union(plan.ClaimedCpus);
            foreach (LeasedDevice d in plan.Devices)
            {
                UsedDevices.Add(d.Address);
            }

            if (plan.Mig is { } mig)
            {
                MigGpus.Add(mig.Gpu);
                UsedMig.Add(mig);
            }

            foreach (NodeAllocation n in plan.Nodes)
            {
                _usedBytes[(n.Node, plan.PageSize)] = UsedBytes(n.Node, plan.PageSize) + n.MemoryBytes;
            }
        }

        Claimed = claimed;
        Free = Usable.Except(claimed);
        UnhealthyGpus = context.UnhealthyGpus ?? new HashSet<PciAddress>();
        foreach (MigCapacity c in context.MigCapacity ?? [])
        {
            MigModeGpus.Add(c.Gpu);
        }
    }

    /// <summary>The inputs.</summary>
    public PlanningContext Context { get; }

    /// <summary>Online CPUs that are not host-reserved.</summary>
    public CpuSet Usable { get; }

    /// <summary>CPUs claimed by current leases.</summary>
    public CpuSet Claimed { get; }

    /// <summary>Usable CPUs no lease claims.</summary>
    public CpuSet Free { get; }

    /// <summary>Lookups over the topology (CPUs, nodes, devices, IOMMU companions).</summary>
    internal TopologyIndex Index { get; }

    /// <summary>PCI functions held by current leases.</summary>
    public HashSet<PciAddress> UsedDevices { get; } = [];

    /// <summary>GPUs carrying a leased MIG instance (not available whole).</summary>
    public HashSet<PciAddress> MigGpus { get; } = [];

    /// <summary>GPUs marked unhealthy: not leasable, whole or as MIG instances.</summary>
    public IReadOnlySet<PciAddress> UnhealthyGpus { get; }

    /// <summary>GPUs NVML reports in MIG mode (they offer MIG profiles, never a whole GPU).</summary>
    public HashSet<PciAddress> MigModeGpus { get; } = [];

    /// <summary>True when <paramref name="gpu"/> may be leased whole now: not leased, no MIG, healthy.</summary>
    public bool WholeGpuFree(PciAddress gpu) =>
        !UsedDevices.Contains(gpu) && !MigGpus.Contains(gpu) && !MigModeGpus.Contains(gpu) && !UnhealthyGpus.Contains(gpu);

    /// <summary>MIG placements held by current leases.</summary>
    public List<MigPlacement> UsedMig { get; } = [];

    /// <summary>The node with id <paramref name="id"/>, or null.</summary>
    public NumaNode? Node(int id) => Index.Nodes.GetValueOrDefault(id);

    /// <summary>Bytes of <paramref name="size"/> pages leased on <paramref name="node"/>.</summary>
    public long UsedBytes(int node, PageSize size) => _usedBytes.GetValueOrDefault((node, size));

    /// <summary>Bytes of <paramref name="size"/> memory the node can give leases in all (current leases' included).</summary>
    public long CapacityBytes(int node, PageSize size)
    {
        NumaNode? n = Node(node);
        if (n is null || !n.HasCpus)
        {
            // CPU-less nodes (GH200/GB200 GPU memory, CXL) are the GPU's own memory: never guest RAM.
            return 0;
        }

        if (size == PageSize.Small4K)
        {
            long pools = n.Hugepages.Sum(p => p.Total * p.PageSizeKiB * 1024);
            // A node whose memory is unknown offers none.
            return Math.Max(0, (n.MemoryTotalBytes ?? 0) - pools - Context.HostReservedMemoryBytesPerNode);
        }

        // What the kernel has free in the pool now, plus what leases already hold there (their guests may be running
        // and using it): pages used outside leases (a VM or hugetlbfs user the agent does not know) are not offered.
        // Never more than the pool itself, since a lease whose guest is not running holds pages that are still free.
        long kib = size.KiB();
        HugepagePool? pool = n.Hugepages.FirstOrDefault(p => p.PageSizeKiB == kib);
        return pool is null ? 0 : Math.Min(pool.Total * kib * 1024, (pool.Free * kib * 1024) + UsedBytes(node, size));
    }

    /// <summary>Bytes of <paramref name="size"/> memory still free for leases on the node.</summary>
    public long FreeBytes(int node, PageSize size) => Math.Max(0, CapacityBytes(node, size) - UsedBytes(node, size));

    /// <summary>Free usable CPUs on a node.</summary>
    public CpuSet FreeOn(int node, CpuSet alsoTaken) =>
        Node(node) is { } n ? n.Cpus.Intersect(Free).Except(alsoTaken) : CpuSet.Empty;

    /// <summary>
    /// The CPU node a device's work belongs on: its own node when that has CPUs; for a CPU-less node (GH200 GPU
    /// memory) or an unknown one, the nearest node with CPUs by SLIT distance; null when the kernel does not know.
    /// </summary>
    public int? CpuNodeOf(int? node)
    {
        if (node is not { } id || Node(id) is not { } n)
        {
            return null;
        }

        if (n.HasCpus)
        {
            return id;
        }

        int? best = null;
        int bestDistance = int.MaxValue;
        IReadOnlyList<NumaNode> all = Context.Topology.NumaNodes;
        for (int i = 0; i < all.Count; i++)
        {
            if (!all[i].HasCpus)
            {
                continue;
            }

            int d = i < n.Distances.Count ? n.Distances[i] : 255;
            if (d < bestDistance)
            {
                bestDistance = d;
                best = all[i].Id;
            }
        }

        return best;
    }

    /// <summary>CPU nodes ordered by distance from <paramref name="from"/>, nearest first (itself first).</summary>
    public IEnumerable<int> CpuNodesByDistance(int from)
    {
        IReadOnlyList<NumaNode> all = Context.Topology.NumaNodes;
        NumaNode? origin = Node(from);
        return all.Select((n, i) => (n, d: origin is not null && i < origin.Distances.Count ? origin.Distances[i] : (n.Id == from ? 0 : 255)))
            .Where(x => x.n.HasCpus)
            .OrderBy(x => x.n.Id == from ? -1 : x.d)
            .ThenBy(x => x.n.Id)
            .Select(x => x.n.Id);
    }

    /// <summary>The physical core (its thread siblings on this host) of a CPU.</summary>
    public CpuSet CoreOf(int cpu) =>
        Index.CpuById.TryGetValue(cpu, out LogicalCpu? c) && !c.ThreadSiblings.IsEmpty ? c.ThreadSiblings : CpuSet.Of(cpu);

    /// <summary>Threads per core (the largest sibling set; 1 without SMT).</summary>
    public int ThreadsPerCore => Index.ThreadsPerCore;
}
