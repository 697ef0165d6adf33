using System.Globalization;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;

namespace AiFactory.Host.Planning.Leases;

public static partial class LeasePlanner
{
    private sealed class NodeDraft(int node)
    {
        public int Node { get; } = node;

        public List<int> Vcpus { get; } = [];

        public CpuSet Reserved { get; set; } = CpuSet.Empty;

        public long Pages { get; set; }
    }

    private static PlanResult? PlaceCpusAndMemory(
        HostUsage usage, LeaseRequest request, List<int> deviceNodes, Dictionary<int, int> deviceCount,
        List<string> spill, out List<NodeAllocation> nodes, out CpuSet emulator)
    {
        nodes = [];
        emulator = CpuSet.Empty;
        if (request.ThreadPolicy == CpuThreadPolicy.Require && usage.ThreadsPerCore < 2)
        {
            return PlanResult.Invalid("thread_policy", "require needs SMT, and this host has one thread per core");
        }

        long pageBytes = request.PageSize.Bytes();
        long pages = request.MemoryBytes / pageBytes;
        if (request.EmulatorThreads == EmulatorThreadPolicy.Share && usage.Context.HostReservedCpus.IsEmpty)
        {
            return PlanResult.Invalid("emulator_threads", "share runs emulator threads on the host's reserved CPUs, and this host reserves none: " +
                "configure cpus.reserved in the node profile, or ask for isolate (one dedicated core for the emulator threads)");
        }

        // Isolate: one whole extra physical core (all its threads) for the emulator threads, counted in the unit
        // CpuCapacity uses for the thread policy (cores under isolate, threads otherwise).
        int emulatorCpus = request.EmulatorThreads != EmulatorThreadPolicy.Isolate ? 0 : request.ThreadPolicy == CpuThreadPolicy.Isolate ? 1 : usage.ThreadsPerCore;
        CpuSet taken = CpuSet.Empty;
        var drafts = new Dictionary<int, NodeDraft>();
        NodeDraft Draft(int n) => drafts.TryGetValue(n, out NodeDraft? d) ? d : drafts[n] = new NodeDraft(n);
        long FreePages(int n) => (usage.FreeBytes(n, request.PageSize) / pageBytes) - (drafts.TryGetValue(n, out NodeDraft? d) ? d.Pages : 0);
        List<int> cpuNodes = [.. usage.Context.Topology.NumaNodes.Where(n => n.HasCpus).Select(n => n.Id)];

        List<int> primary = deviceNodes;
        if (primary.Count == 0)
        {
            // No devices: the one node that just fits (best fit keeps bigger nodes whole).
            var fits = cpuNodes
                .Select(n => (Node: n, Cpus: CpuCapacity(usage, n, request.ThreadPolicy, taken), Pages: FreePages(n)))
                .ToList();
            var fit = fits.Where(f => f.Cpus >= request.Vcpus + emulatorCpus && f.Pages >= pages)
                .OrderBy(f => f.Cpus).ThenBy(f => f.Pages).ThenBy(f => f.Node).Select(f => (int?)f.Node).FirstOrDefault();
            if (fit is { } one)
            {
                primary = [one];
            }
            else if (request.NumaPolicy == NumaPolicy.Required || fits.Count == 0)
            {
                var bestCpu = fits.OrderByDescending(f => f.Cpus).ThenBy(f => f.Node).FirstOrDefault();
                if (bestCpu.Cpus < request.Vcpus + emulatorCpus)
                {
                    return PlanResult.Short("vcpus", bestCpu.Node, string.Create(CultureInfo.InvariantCulture,
                        $"{request.Vcpus + emulatorCpus} CPUs asked (thread policy {Lower(request.ThreadPolicy)}), at most {bestCpu.Cpus} free on one NUMA node (node {bestCpu.Node})"));
                }

                var bestMem = fits.OrderByDescending(f => f.Pages).ThenBy(f => f.Node).First();
                return PlanResult.Short("memory", bestMem.Node, string.Create(CultureInfo.InvariantCulture,
                    $"{pages} {request.PageSize.Name()} pages asked, at most {bestMem.Pages} free on one NUMA node (node {bestMem.Node}); numa policy required"));
            }
            else
            {
                primary = [fits.OrderByDescending(f => f.Cpus).ThenBy(f => f.Node).First().Node];
            }
        }

        // Shares in proportion to the devices per node.
        int weightSum = primary.Sum(n => Math.Max(1, deviceCount.GetValueOrDefault(n)));
        int[] cpuShare = Split(request.Vcpus, primary, deviceCount, weightSum);
        long[] pageShare = [.. Split((int)Math.Min(pages, int.MaxValue), primary, deviceCount, weightSum).Select(x => (long)x)];
        if (pages > int.MaxValue)
        {
            pageShare = [pages, .. new long[primary.Count - 1]];
        }

        // vCPUs: each primary node its share, then the shortfall on other primary nodes, then (preferred) the nearest others.
        int cpuShort = 0;
        for (int i = 0; i < primary.Count; i++)
        {
            cpuShort += cpuShare[i] - TakeCpus(usage, Draft(primary[i]), cpuShare[i], request.ThreadPolicy, ref taken);
        }

        foreach (int n in primary.Where(_ => cpuShort > 0))
        {
            cpuShort -= TakeCpus(usage, Draft(n), cpuShort, request.ThreadPolicy, ref taken);
        }

        if (cpuShort > 0)
        {
            if (request.NumaPolicy == NumaPolicy.Required)
            {
                return PlanResult.Short("vcpus", primary[0], string.Create(CultureInfo.InvariantCulture,
                    $"{request.Vcpus} asked (thread policy {Lower(request.ThreadPolicy)}), {request.Vcpus - cpuShort} free on NUMA node(s) {string.Join(",", primary)}; numa policy required"));
            }

            foreach (int n in usage.CpuNodesByDistance(primary[0]).Where(n => !primary.Contains(n)))
            {
                int got = TakeCpus(usage, Draft(n), cpuShort, request.ThreadPolicy, ref taken);
                if (got > 0)
                {
                    spill.Add(string.Create(CultureInfo.InvariantCulture, $"{got} vCPU(s) on node {n}"));
                    cpuShort -= got;
                }

                if (cpuShort == 0)
                {
                    break;
                }
            }

            if (cpuShort > 0)
            {
                return PlanResult.Short("vcpus", null, string.Create(CultureInfo.InvariantCulture,
                    $"{request.Vcpus} asked (thread policy {Lower(request.ThreadPolicy)}), {request.Vcpus - cpuShort} free on the whole host"));
            }
        }

        // Memory the same way, in pages.
        long memShort = 0;
        for (int i = 0; i < primary.Count; i++)
        {
            long got = Math.Min(pageShare[i], FreePages(primary[i]));
            Draft(primary[i]).Pages += got;
            memShort += pageShare[i] - got;
        }

        foreach (int n in primary.Where(_ => memShort > 0))
        {
            long got = Math.Min(memShort, FreePages(n));
            Draft(n).Pages += got;
            memShort -= got;
        }

        if (memShort > 0)
        {
            if (request.NumaPolicy == NumaPolicy.Required)
            {
                return PlanResult.Short("memory", primary[0], string.Create(CultureInfo.InvariantCulture,
                    $"{pages} {request.PageSize.Name()} pages asked, {pages - memShort} free on NUMA node(s) {string.Join(",", primary)}; numa policy required"));
            }

            foreach (int n in usage.CpuNodesByDistance(primary[0]).Where(n => !primary.Contains(n)))
            {
                long got = Math.Min(memShort, FreePages(n));
                if (got > 0)
                {
                    Draft(n).Pages += got;
                    spill.Add(string.Create(CultureInfo.InvariantCulture, $"{got} {request.PageSize.Name()} page(s) on node {n}"));
                    memShort -= got;
                }
            }

            if (memShort > 0)
            {
                return PlanResult.Short("memory", null, string.Create(CultureInfo.InvariantCulture,
                    $"{pages} {request.PageSize.Name()} pages asked, {pages - memShort} free on the whole host"));
            }
        }

        if (emulatorCpus > 0)
        {
            IEnumerable<int> where = request.NumaPolicy == NumaPolicy.Required ? primary : primary.Concat(usage.CpuNodesByDistance(primary[0]).Where(n => !primary.Contains(n)));
            CpuSet? core = null;
            foreach (int n in where)
            {
                core = PickWholeCore(usage, n, taken);
                if (core is not null)
                {
                    if (!primary.Contains(n))
                    {
                        spill.Add(string.Create(CultureInfo.InvariantCulture, $"emulator core on node {n}"));
                    }

                    break;
                }
            }

            if (core is not { } c)
            {
                return PlanResult.Short("emulator_threads", primary[0], "isolate needs one more free whole core next to the vCPUs, and none is left");
            }

            emulator = c;
            taken = taken.Union(emulator);
        }
        else
        {
            // The host's shared set only: never CPUs that are free now but may go to another lease later.
            emulator = usage.Context.HostReservedCpus;
        }

        foreach (NodeDraft d in drafts.Values.Where(d => d.Vcpus.Count > 0 || d.Pages > 0)
                     .OrderBy(d => primary.IndexOf(d.Node) is var i && i >= 0 ? i : int.MaxValue).ThenBy(d => d.Node))
        {
            nodes.Add(new NodeAllocation(d.Node, d.Vcpus, d.Reserved, d.Pages * pageBytes));
        }

        return null;
    }

    private static int[] Split(int total, List<int> nodes, Dictionary<int, int> weights, int weightSum)
    {
        var share = new int[nodes.Count];
        int given = 0;
        for (int i = 0; i < nodes.Count; i++)
        {
            share[i] = (int)((long)total * Math.Max(1, weights.GetValueOrDefault(nodes[i])) / weightSum);
            given += share[i];
        }

        for (int i = 0; given < total; i = (i + 1) % nodes.Count)
        {
            share[i]++;
            given++;
        }

        return share;
    }

    /// <summary>The free cores of a node: each core's usable threads, and whether all of them are free.</summary>
    private static List<(CpuSet Free, bool Whole)> Cores(HostUsage usage, int node, CpuSet taken)
    {
        CpuSet free = usage.FreeOn(node, taken);
        var cores = new List<(CpuSet, bool)>();
        var seen = new HashSet<int>();
        foreach (int cpu in free)
        {
            CpuSet core = usage.CoreOf(cpu);
            if (!seen.Add(core.First()))
            {
                continue;
            }

            CpuSet coreFree = core.Intersect(free);
            cores.Add((coreFree, coreFree.Count == core.Count));
        }

        return cores;
    }

    private static int CpuCapacity(HostUsage usage, int node, CpuThreadPolicy policy, CpuSet taken)
    {
        List<(CpuSet Free, bool Whole)> cores = Cores(usage, node, taken);
        return policy switch
        {
            CpuThreadPolicy.Prefer => cores.Sum(c => c.Free.Count),
            CpuThreadPolicy.Isolate => cores.Count(c => c.Whole),
            _ => cores.Where(c => c.Whole).Sum(c => c.Free.Count),
        };
    }

    /// <summary>Takes up to <paramref name="want"/> vCPU CPUs on one node under the thread policy; returns how many.</summary>
    private static int TakeCpus(HostUsage usage, NodeDraft draft, int want, CpuThreadPolicy policy, ref CpuSet taken)
    {
        if (want <= 0)
        {
            return 0;
        }

        List<(CpuSet Free, bool Whole)> cores = Cores(usage, draft.Node, taken);
        var got = new List<int>();
        CpuSet reserved = CpuSet.Empty;
        switch (policy)
        {
            case CpuThreadPolicy.Prefer:
                // Whole cores while a whole core's worth is wanted, then the threads of split cores, then whole cores piecemeal.
                foreach ((CpuSet free, _) in cores.Where(c => c.Whole))
                {
                    if (want - got.Count < free.Count)
                    {
                        break;
                    }

                    got.AddRange(free);
                }

                foreach ((CpuSet free, _) in cores.Where(c => !c.Whole).OrderBy(c => c.Free.Count).Concat(cores.Where(c => c.Whole)))
                {
                    foreach (int cpu in free)
                    {
                        if (got.Count < want && !got.Contains(cpu))
                        {
                            got.Add(cpu);
                        }
                    }
                }

                break;
            case CpuThreadPolicy.Isolate:
                foreach ((CpuSet free, _) in cores.Where(c => c.Whole).Take(want))
                {
                    int first = free.First();
                    got.Add(first);
                    reserved = reserved.Union(free.Except(CpuSet.Of(first)));
                }

                break;
            default:
                foreach ((CpuSet free, _) in cores.Where(c => c.Whole))
                {
                    if (got.Count >= want)
                    {
                        break;
                    }

                    foreach (int cpu in free)
                    {
                        if (got.Count < want)
                        {
                            got.Add(cpu);
                        }
                        else
                        {
                            reserved = reserved.Union(CpuSet.Of(cpu));
                        }
                    }
                }

                break;
        }

        draft.Vcpus.AddRange(got);
        draft.Reserved = draft.Reserved.Union(reserved);
        taken = taken.Union(CpuSet.Of(got)).Union(reserved);
        return got.Count;
    }

    /// <summary>One free whole physical core (every thread of it) for isolated emulator threads, or null.</summary>
    private static CpuSet? PickWholeCore(HostUsage usage, int node, CpuSet taken)
    {
        foreach ((CpuSet free, bool whole) in Cores(usage, node, taken))
        {
            if (whole)
            {
                return free;
            }
        }

        return null;
    }

    private static string Lower(CpuThreadPolicy p) => p switch
    {
        CpuThreadPolicy.Prefer => "prefer",
        CpuThreadPolicy.Isolate => "isolate",
        _ => "require",
    };
}
