using System.Globalization;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Planning.Leases;

/// <summary>
/// The lease policy: a pure function of (topology, current leases, host-reserved CPUs, NVML MIG capacity, request)
/// to a plan or a refusal that names the field and, when something fell short, the NUMA node. Devices are chosen
/// first (best fit: the node whose free GPUs just cover the request, so whole nodes and GPUs stay free), then vCPUs
/// and memory on the devices' node(s); when those fall short there (refused, or spilled under numa policy
/// preferred), each node is tried with the devices taken from it, so nothing is refused, or spilled, that one node
/// could hold whole. It never opens a file.
/// </summary>
public static partial class LeasePlanner
{
    /// <summary>The policy's name, for logs and plans.</summary>
    public const string Name = "numa-best-fit";

    /// <summary>Plans <paramref name="request"/> against <paramref name="context"/>.</summary>
    public static PlanResult Plan(PlanningContext context, LeaseRequest request)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(request);
        if (Validate(request) is { } invalid)
        {
            return invalid;
        }

        var usage = new HostUsage(context);
        PlanResult first = PlanOn(context, usage, request, onlyNode: null);
        bool shortThere = first.Refusal is { Kind: RefusalKind.Insufficient, Field: not ("gpus.count" or "mig.profile") };
        bool spilled = first.Plan is { Spill.Count: > 0 };
        if (!(shortThere || spilled) || (request.Gpus is null && request.Mig is null && request.Vfs is null))
        {
            return first;
        }

        // The devices' node was chosen by the devices alone (best fit); the vCPUs, memory or VFs fell short there
        // (refused, or spilled under numa policy preferred). Every node with CPUs gets the whole placement with the
        // devices taken from it: the first that holds the lease whole wins, and a spill is kept (or a node's spilled
        // placement taken over a refusal) only when no node holds it whole.
        PlanResult? spilledPlan = first.Succeeded ? first : null;
        foreach (NumaNode node in context.Topology.NumaNodes.Where(n => n.HasCpus).OrderBy(n => n.Id))
        {
            PlanResult there = PlanOn(context, usage, request, node.Id);
            if (there.Plan is { Spill.Count: 0 })
            {
                return there;
            }

            if (there.Succeeded)
            {
                spilledPlan ??= there;
            }
        }

        return spilledPlan ?? first;
    }

    /// <summary>
    /// One placement: devices first, then vCPUs and memory on their node(s). <paramref name="onlyNode"/> takes the
    /// devices (GPUs, the MIG GPU, VFs of a lease without GPUs) from that CPU node only; null lets best fit choose.
    /// </summary>
    private static PlanResult PlanOn(PlanningContext context, HostUsage usage, LeaseRequest request, int? onlyNode)
    {
        var devices = new List<LeasedDevice>();
        var spill = new List<string>();
        var spilled = new HashSet<PciAddress>();
        MigPlacement? mig = null;
        if (request.Gpus is { } gpus)
        {
            PlanResult? refused = PickGpus(usage, gpus, request, devices, onlyNode);
            if (refused is not null)
            {
                return refused;
            }
        }

        if (request.Mig is { } migRequest)
        {
            PlanResult? refused = PickMig(usage, migRequest, onlyNode, out mig);
            if (refused is not null)
            {
                return refused;
            }
        }

        if (request.Vfs is { } vfs)
        {
            PlanResult? refused = PickVfs(usage, vfs, request.NumaPolicy, mig, devices, spill, spilled, onlyNode);
            if (refused is not null)
            {
                return refused;
            }
        }

        // The nodes the devices live on, the busiest first; CPU-less GPU-memory nodes map to their CPU node. A VF that
        // spilled (numa policy preferred) does not pull vCPUs and memory after it.
        var deviceNodes = new List<int>();
        var deviceCount = new Dictionary<int, int>();
        foreach (int? node in devices.Where(d => d.Role != DeviceRole.IommuCompanion && !spilled.Contains(d.Address)).Select(d => usage.CpuNodeOf(d.NumaNode))
                     .Append(mig is null ? null : usage.CpuNodeOf(usage.Index.Device(mig.Gpu)?.NumaNode)))
        {
            if (node is { } n)
            {
                deviceCount[n] = deviceCount.GetValueOrDefault(n) + 1;
            }
        }

        deviceNodes.AddRange(deviceCount.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Select(kv => kv.Key));
        PlanResult? placed = PlaceCpusAndMemory(usage, request, deviceNodes, deviceCount, spill, out List<NodeAllocation> nodes, out CpuSet emulator);
        if (placed is not null)
        {
            return placed;
        }

        var plan = new LeasePlan
        {
            Devices = devices,
            Mig = mig,
            Nodes = nodes,
            EmulatorCpus = emulator,
            EmulatorIsolated = request.EmulatorThreads == EmulatorThreadPolicy.Isolate,
            PageSize = request.PageSize,
            Spill = spill,
            FragmentationAfter = Fragmentation.Empty,
        };
        return PlanResult.Ok(plan with { FragmentationAfter = MeasureFragmentation(context with { Current = [.. context.Current, plan] }) });
    }

    /// <summary>What stays whole on the host with <paramref name="context"/>'s leases in place.</summary>
    public static Fragmentation MeasureFragmentation(PlanningContext context)
    {
        var usage = new HostUsage(context);
        int wholeGpus = context.Topology.PciDevices.Count(d => d.Kind == Model.Pci.DeviceKind.Gpu && !d.IsVirtualFunction && usage.WholeGpuFree(d.Address));
        var busyNodes = new HashSet<int>();
        foreach (PciAddress a in usage.UsedDevices)
        {
            if (usage.CpuNodeOf(usage.Index.Device(a)?.NumaNode) is { } n)
            {
                busyNodes.Add(n);
            }
        }

        int wholeNodes = context.Topology.NumaNodes.Count(n => n.HasCpus && !busyNodes.Contains(n.Id) &&
            n.Cpus.Intersect(usage.Usable).IsSubsetOf(usage.Free) && usage.UsedBytes(n.Id, PageSize.Small4K) + usage.UsedBytes(n.Id, PageSize.Huge2M) + usage.UsedBytes(n.Id, PageSize.Huge1G) == 0);
        int wholeCores = 0;
        int splitCores = 0;
        var seen = new bool[usage.Index.CpuIdBound];
        foreach (int cpu in usage.Usable)
        {
            if (seen[cpu])
            {
                continue;
            }

            // One visit per core; a core with a host-reserved thread is neither whole nor split.
            int threads = 0;
            int usable = 0;
            int free = 0;
            foreach (int sibling in usage.CoreOf(cpu))
            {
                seen[sibling] = true;
                threads++;
                usable += usage.Usable.Contains(sibling) ? 1 : 0;
                free += usage.Free.Contains(sibling) ? 1 : 0;
            }

            if (usable != threads)
            {
                continue;
            }

            if (free == threads)
            {
                wholeCores++;
            }
            else if (free > 0)
            {
                splitCores++;
            }
        }

        return new Fragmentation(wholeGpus, wholeNodes, wholeCores, usage.Free.Count, splitCores);
    }

    private static PlanResult? Validate(LeaseRequest r)
    {
        if (string.IsNullOrWhiteSpace(r.Owner))
        {
            return PlanResult.Invalid("owner", "is required");
        }

        if (r.Gpus is not null && r.Mig is not null)
        {
            return PlanResult.Invalid("mig", "a lease takes whole GPUs or one MIG instance, not both");
        }

        if (r.Gpus is { Count: < 1 })
        {
            return PlanResult.Invalid("gpus.count", string.Create(CultureInfo.InvariantCulture, $"must be at least 1, got {r.Gpus.Count}"));
        }

        if (r.Mig is { } m && string.IsNullOrWhiteSpace(m.Profile))
        {
            return PlanResult.Invalid("mig.profile", "is required (e.g. 1g.10gb)");
        }

        if (r.Vfs is { Count: < 1 })
        {
            return PlanResult.Invalid("vfs.count", string.Create(CultureInfo.InvariantCulture, $"must be at least 1, got {r.Vfs.Count}"));
        }

        if (r.Vcpus < 1)
        {
            return PlanResult.Invalid("vcpus", string.Create(CultureInfo.InvariantCulture, $"must be at least 1, got {r.Vcpus}"));
        }

        if (r.MemoryBytes <= 0)
        {
            return PlanResult.Invalid("memory", string.Create(CultureInfo.InvariantCulture, $"must be positive, got {r.MemoryBytes} bytes"));
        }

        if (r.MemoryBytes % r.PageSize.Bytes() != 0)
        {
            return PlanResult.Invalid("memory", string.Create(CultureInfo.InvariantCulture, $"{r.MemoryBytes} bytes is not a whole number of {r.PageSize.Name()} pages"));
        }

        if (r.Ttl is { } ttl && ttl <= TimeSpan.Zero)
        {
            return PlanResult.Invalid("ttl", string.Create(CultureInfo.InvariantCulture, $"must be in the future, got {ttl}"));
        }

        return null;
    }
}
