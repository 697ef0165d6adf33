using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>
/// Thousands of random allocate/release sequences on every named topology: the invariants (no overlap, on the
/// stated NUMA nodes unless spill was allowed, capacity accounting exact) hold after every step. Requests mix whole
/// GPUs, MIG instances (three DGX GPUs in MIG mode, with H100 placements as NVML reports them), paired and unpaired
/// VFs, all three page sizes, thread and emulator policies. Seeded, so a failure names a sequence that replays.
/// </summary>
public sealed class LeasePlannerPropertyTests
{
    private const long GiB = 1L << 30;

    public static TheoryData<string> TopologyNames => new() { "dgx-h100", "four-socket", "gh200", "workstation", "nic-on-other-socket" };

    private static HostTopology ByName(string name) => name switch
    {
        "dgx-h100" => Topologies.DgxH100,
        "four-socket" => Topologies.FourSocket,
        "gh200" => Topologies.Gh200,
        "nic-on-other-socket" => Topologies.NicOnOtherSocket,
        _ => Topologies.Workstation,
    };

    /// <summary>Two GPUs of node 0 and one of node 1 in MIG mode on the DGX, offering H100 80GB profiles at NVML's placements.</summary>
    private static IReadOnlyList<MigCapacity> MigOn(string name)
    {
        if (name != "dgx-h100")
        {
            return [];
        }

        var capacity = new List<MigCapacity>();
        foreach (string gpu in new[] { "0000:18:00.0", "0000:2a:00.0", "0000:9a:00.0" })
        {
            PciAddress address = PciAddress.Parse(gpu);
            capacity.Add(new MigCapacity(address, "1g.10gb", [.. Enumerable.Range(0, 7).Select(i => (i, 1))]));
            capacity.Add(new MigCapacity(address, "2g.20gb", [(0, 2), (2, 2), (4, 2)]));
            capacity.Add(new MigCapacity(address, "3g.40gb", [(0, 4), (4, 4)]));
            capacity.Add(new MigCapacity(address, "7g.80gb", [(0, 8)]));
        }

        return capacity;
    }

    private static readonly string[] MigProfiles = ["1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"];

    [Theory]
    [MemberData(nameof(TopologyNames))]
    public void Random_allocate_and_release_sequences_never_break_an_invariant(string name)
    {
        HostTopology topology = ByName(name);
        CpuSet reserved = CpuSet.Of(topology.NumaNodes.Where(n => n.HasCpus).Select(n => n.Cpus.First()));
        IReadOnlyList<MigCapacity> mig = MigOn(name);
        int planned = 0;
        var seen = new Dictionary<string, int>();
        for (int seed = 0; seed < 500; seed++)
        {
            var random = new Random(seed);
            var current = new List<LeasePlan>();
            for (int step = 0; step < 24; step++)
            {
                if (current.Count > 0 && random.Next(3) == 0)
                {
                    current.RemoveAt(random.Next(current.Count));
                }
                else
                {
                    LeaseRequest request = RandomRequest(random);
                    PlanResult result = LeasePlanner.Plan(new PlanningContext(topology, current, reserved, mig), request);
                    if (result.Plan is { } plan)
                    {
                        AssertPlanKeepsItsPromises(topology, mig, request, plan, $"{name} seed {seed} step {step}");
                        current.Add(plan);
                        planned++;
                        Count(seen, plan);
                    }
                    else
                    {
                        Assert.NotEmpty(result.Refusal!.Field);
                    }
                }

                AssertInvariants(topology, reserved, mig, current, $"{name} seed {seed} step {step}");
            }
        }

        Assert.True(planned > 500, $"only {planned} plans succeeded: the generator is too greedy to test much");

        // The generator reaches what the invariants are about on the topologies that have it.
        string kinds = string.Join(", ", seen.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"));
        Assert.True(seen.GetValueOrDefault("1G pages") > 50, $"{name}: too few 1G plans ({kinds})");
        if (topology.NumaNodes.Any(n => n.Hugepages.Any(p => p.PageSizeKiB == 2048)))
        {
            Assert.True(seen.GetValueOrDefault("2M pages") > 50, $"{name}: too few 2M plans ({kinds})");
        }

        if (topology.PciDevices.Any(d => d.IsVirtualFunction))
        {
            Assert.True(seen.GetValueOrDefault("VFs") > 50, $"{name}: too few plans with VFs ({kinds})");
        }

        if (name == "nic-on-other-socket")
        {
            // Its only VFs are off the GPUs' node: every unpaired VF with a GPU under preferred spills.
            Assert.True(seen.GetValueOrDefault("VF spills") > 20, $"{name}: too few VF spills ({kinds})");
        }

        if (MigOn(name).Count > 0)
        {
            Assert.True(seen.GetValueOrDefault("MIG") > 50, $"{name}: too few MIG plans ({kinds})");
        }
    }

    private static void Count(Dictionary<string, int> seen, LeasePlan plan)
    {
        void Add(string kind) => seen[kind] = seen.GetValueOrDefault(kind) + 1;
        Add(plan.PageSize switch { PageSize.Huge1G => "1G pages", PageSize.Huge2M => "2M pages", _ => "4K pages" });
        if (plan.Mig is not null)
        {
            Add("MIG");
        }

        if (plan.Devices.Any(d => d.Role == DeviceRole.VirtualFunction))
        {
            Add("VFs");
        }

        if (plan.Spill.Any(s => s.StartsWith("VF ", StringComparison.Ordinal)))
        {
            Add("VF spills");
        }
    }

    private static LeaseRequest RandomRequest(Random r)
    {
        PageSize page = (PageSize)r.Next(3);
        long unit = page == PageSize.Small4K ? GiB : page.Bytes();
        long memory = page == PageSize.Huge2M ? r.Next(1, 2048) * unit : r.Next(1, 200) * Math.Max(unit, GiB);
        int devices = r.Next(6);
        return new LeaseRequest
        {
            Owner = "prop",
            Gpus = devices < 2 ? new GpuRequest(r.Next(1, 5)) : null,
            Mig = devices == 2 ? new MigRequest(MigProfiles[r.Next(MigProfiles.Length)]) : null,
            Vfs = r.Next(4) == 0 ? new VfRequest(r.Next(1, 4), PairWithGpus: r.Next(2) == 0) : null,
            Vcpus = r.Next(1, 48),
            ThreadPolicy = (CpuThreadPolicy)r.Next(3),
            EmulatorThreads = (EmulatorThreadPolicy)r.Next(2),
            MemoryBytes = memory,
            PageSize = page,
            NumaPolicy = (NumaPolicy)r.Next(2),
        };
    }

    private static void AssertPlanKeepsItsPromises(HostTopology topology, IReadOnlyList<MigCapacity> mig, LeaseRequest request, LeasePlan plan, string where)
    {
        Assert.True(request.Vcpus == plan.VcpuPins.Count, $"{where}: {plan.VcpuPins.Count} vCPUs for {request.Vcpus}");
        Assert.True(request.MemoryBytes == plan.MemoryBytes, $"{where}: memory {plan.MemoryBytes} for {request.MemoryBytes}");
        Assert.Equal(request.Gpus?.Count ?? 0, plan.Devices.Count(d => d.Role == DeviceRole.Gpu));
        Assert.Equal(request.Vfs?.Count ?? 0, plan.Devices.Count(d => d.Role == DeviceRole.VirtualFunction));
        Assert.Equal(request.Mig is not null, plan.Mig is not null);
        if (plan.Mig is { } placement)
        {
            // Exactly a placement NVML offers for that profile on that GPU.
            Assert.Contains(mig, c => c.Gpu == placement.Gpu && c.Profile == placement.Profile && c.FreePlacements.Contains((placement.PlacementStart, placement.PlacementSize)));
            Assert.Equal(request.Mig!.Profile, placement.Profile);
        }

        foreach (NodeAllocation n in plan.Nodes)
        {
            Assert.True(n.MemoryBytes % plan.PageSize.Bytes() == 0, $"{where}: {n.MemoryBytes} bytes on node {n.Node} is not whole {plan.PageSize} pages");
        }

        AssertVfsKeepTheNumaPolicy(topology, request, plan, where);
        foreach (NodeAllocation n in plan.Nodes)
        {
            CpuSet nodeCpus = topology.NumaNodes.Single(x => x.Id == n.Node).Cpus;
            Assert.True(CpuSet.Of(n.VcpuCpus).Union(n.ReservedSiblings).IsSubsetOf(nodeCpus), $"{where}: CPUs of cell on node {n.Node} are not on that node");
        }

        if (request.NumaPolicy == NumaPolicy.Required)
        {
            Assert.True(plan.Spill.Count == 0, $"{where}: spill under numa policy required");
        }

        HashSet<int> deviceNodes = [.. plan.Devices.Where(d => d.Role != DeviceRole.IommuCompanion && d.NumaNode is not null)
            .Select(d => topology.NumaNodes.Single(x => x.Id == d.NumaNode).HasCpus ? d.NumaNode!.Value : 0)];
        if (plan.Spill.Count == 0 && deviceNodes.Count > 0)
        {
            Assert.True(plan.Nodes.All(n => deviceNodes.Contains(n.Node)), $"{where}: a cell off the devices' nodes without a stated spill");
        }

        if (request.ThreadPolicy != CpuThreadPolicy.Prefer)
        {
            // Whole cores: no vCPU CPU shares its core with anything outside this lease.
            CpuSet claimed = plan.ClaimedCpus;
            foreach (int cpu in plan.VcpuPins)
            {
                CpuSet core = topology.Cpus.Cpus.Single(c => c.Id == cpu).ThreadSiblings;
                Assert.True(core.IsSubsetOf(claimed), $"{where}: core of CPU {cpu} is not wholly held under {request.ThreadPolicy}");
            }
        }
    }

    /// <summary>
    /// Every VF is a VF of a NIC, a paired VF shares its GPU's PCIe switch, and a VF off the lease's anchor node(s)
    /// (its GPUs' or MIG GPU's node, else the node most of its VFs are on) appears only under numa policy preferred
    /// and is named in the spill.
    /// </summary>
    private static void AssertVfsKeepTheNumaPolicy(HostTopology topology, LeaseRequest request, LeasePlan plan, string where)
    {
        int CpuNode(int? node) => node is { } id && topology.NumaNodes.Single(x => x.Id == id).HasCpus ? id : node is null ? -1 : 0;
        var vfs = plan.Devices.Where(d => d.Role == DeviceRole.VirtualFunction).ToList();
        foreach (LeasedDevice vf in vfs)
        {
            PciDevice device = topology.FindDevice(vf.Address)!;
            Assert.True(device.IsVirtualFunction && topology.FindDevice(device.PhysicalFunction!.Value)!.Kind == DeviceKind.Nic, $"{where}: {vf.Address} is not a NIC VF");
            if (vf.PairedGpu is { } gpu)
            {
                IReadOnlyList<PciAddress> gpuBridges = topology.FindDevice(gpu)!.UpstreamBridges;
                Assert.True(device.UpstreamBridges.Intersect(gpuBridges.Take(gpuBridges.Count - 1)).Any(), $"{where}: VF {vf.Address} is not under the PCIe switch of {gpu}");
            }
        }

        HashSet<int> anchors = [.. plan.Devices.Where(d => d.Role == DeviceRole.Gpu).Select(d => CpuNode(d.NumaNode))];
        if (plan.Mig is { } mig)
        {
            anchors.Add(CpuNode(topology.FindDevice(mig.Gpu)!.NumaNode));
        }

        if (anchors.Count == 0 && vfs.Count > 0)
        {
            anchors.Add(vfs.GroupBy(v => CpuNode(v.NumaNode)).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key);
        }

        foreach (LeasedDevice vf in vfs.Where(v => !anchors.Contains(CpuNode(v.NumaNode))))
        {
            Assert.True(request.NumaPolicy == NumaPolicy.Preferred, $"{where}: VF {vf.Address} on node {vf.NumaNode}, off node(s) {string.Join(",", anchors)}, under numa policy required");
            Assert.True(plan.Spill.Any(s => s.Contains(vf.Address.ToString(), StringComparison.Ordinal)), $"{where}: VF {vf.Address} off the lease's nodes is not stated in the spill [{string.Join("; ", plan.Spill)}]");
        }
    }

    private static void AssertInvariants(HostTopology topology, CpuSet reserved, IReadOnlyList<MigCapacity> mig, List<LeasePlan> current, string where)
    {
        // MIG: placements never overlap on one GPU, and a GPU in MIG mode is never leased whole.
        var placements = current.Where(p => p.Mig is not null).Select(p => p.Mig!).ToList();
        for (int i = 0; i < placements.Count; i++)
        {
            for (int j = i + 1; j < placements.Count; j++)
            {
                MigPlacement a = placements[i];
                MigPlacement b = placements[j];
                Assert.False(a.Gpu == b.Gpu && a.PlacementStart < b.PlacementStart + b.PlacementSize && b.PlacementStart < a.PlacementStart + a.PlacementSize,
                    $"{where}: MIG {a.Profile}@{a.PlacementStart} and {b.Profile}@{b.PlacementStart} overlap on {a.Gpu}");
            }
        }

        HashSet<PciAddress> migMode = [.. mig.Select(c => c.Gpu)];
        Assert.DoesNotContain(current.SelectMany(p => p.Devices), d => migMode.Contains(d.Address));

        var devices = new HashSet<PciAddress>();
        CpuSet claimed = CpuSet.Empty;
        var used = new Dictionary<(int, PageSize), long>();
        foreach (LeasePlan p in current)
        {
            foreach (LeasedDevice d in p.Devices)
            {
                Assert.True(devices.Add(d.Address), $"{where}: device {d.Address} leased twice");
            }

            Assert.False(p.ClaimedCpus.Overlaps(claimed), $"{where}: CPUs {p.ClaimedCpus.Intersect(claimed)} leased twice");
            Assert.False(p.ClaimedCpus.Overlaps(reserved), $"{where}: host-reserved CPU leased");
            claimed = claimed.Union(p.ClaimedCpus);
            foreach (NodeAllocation n in p.Nodes)
            {
                used[(n.Node, p.PageSize)] = used.GetValueOrDefault((n.Node, p.PageSize)) + n.MemoryBytes;
            }
        }

        var context = new PlanningContext(topology, current, reserved, mig);
        var usage = new HostUsage(context);
        foreach (((int node, PageSize size), long bytes) in used)
        {
            Assert.True(bytes <= usage.CapacityBytes(node, size), $"{where}: node {node} {size} over capacity");
            Assert.Equal(usage.CapacityBytes(node, size) - bytes, usage.FreeBytes(node, size));
        }

        Fragmentation f = LeasePlanner.MeasureFragmentation(context);
        Assert.Equal(topology.Cpus.Online.Except(reserved).Except(claimed).Count, f.FreeCpus);
        int gpus = topology.PciDevices.Count(d => d.Kind == DeviceKind.Gpu);
        Assert.Equal(gpus - migMode.Count - current.Sum(p => p.Devices.Count(d => d.Role == DeviceRole.Gpu)), f.FreeWholeGpus);
    }
}
