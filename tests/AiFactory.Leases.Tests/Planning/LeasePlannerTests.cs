using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

public sealed class LeasePlannerTests
{
    private const long GiB = 1L << 30;

    private static LeaseRequest Request(int gpus = 0, int vfs = 0, int vcpus = 4, long memoryGiB = 4, PageSize page = PageSize.Huge1G,
        CpuThreadPolicy thread = CpuThreadPolicy.Prefer, NumaPolicy numa = NumaPolicy.Required, EmulatorThreadPolicy emulator = EmulatorThreadPolicy.Share, string? model = null) => new()
    {
        Owner = "tenant-a",
        Gpus = gpus > 0 ? new GpuRequest(gpus, model) : null,
        Vfs = vfs > 0 ? new VfRequest(vfs) : null,
        Vcpus = vcpus,
        MemoryBytes = memoryGiB * GiB,
        PageSize = page,
        ThreadPolicy = thread,
        NumaPolicy = numa,
        EmulatorThreads = emulator,
    };

    private static LeasePlan Planned(HostTopology topology, LeaseRequest request, IReadOnlyList<LeasePlan>? current = null, CpuSet? reserved = null)
    {
        PlanResult result = LeasePlanner.Plan(new PlanningContext(topology, current ?? [], reserved ?? LeaseTestHost.LastCores(topology)), request);
        Assert.True(result.Succeeded, result.Refusal?.ToString());
        return result.Plan!;
    }

    private static LeaseRefusal Refused(HostTopology topology, LeaseRequest request, IReadOnlyList<LeasePlan>? current = null, IReadOnlyList<MigCapacity>? mig = null)
    {
        PlanResult result = LeasePlanner.Plan(new PlanningContext(topology, current ?? [], LeaseTestHost.LastCores(topology), mig), request);
        Assert.False(result.Succeeded);
        return result.Refusal!;
    }

    [Fact]
    public void Four_gpus_with_paired_vfs_land_on_one_numa_node_with_their_cpus_and_pages()
    {
        LeasePlan plan = Planned(Topologies.DgxH100, Request(gpus: 4, vfs: 4, vcpus: 64, memoryGiB: 256));

        var gpus = plan.Devices.Where(d => d.Role == DeviceRole.Gpu).ToList();
        var vfs = plan.Devices.Where(d => d.Role == DeviceRole.VirtualFunction).ToList();
        Assert.Equal(4, gpus.Count);
        Assert.Equal(4, vfs.Count);
        Assert.All(gpus, g => Assert.Equal(0, g.NumaNode));
        Assert.Equal("nvidia", gpus[0].OriginalDriver);
        Assert.Equal(gpus.Select(g => g.Address).Order(), vfs.Select(v => v.PairedGpu!.Value).Order());
        foreach (LeasedDevice vf in vfs)
        {
            PciDevice gpu = Topologies.DgxH100.FindDevice(vf.PairedGpu!.Value)!;
            PciDevice nic = Topologies.DgxH100.FindDevice(Topologies.DgxH100.FindDevice(vf.Address)!.PhysicalFunction!.Value)!;
            Assert.Equal(gpu.UpstreamBridges[1], nic.UpstreamBridges[1]); // the same PCIe switch upstream port
        }

        NodeAllocation node = Assert.Single(plan.Nodes);
        Assert.Equal(0, node.Node);
        Assert.Equal(64, node.VcpuCpus.Count);
        Assert.True(CpuSet.Of(node.VcpuCpus).IsSubsetOf(Topologies.DgxH100.NumaNodes[0].Cpus));
        Assert.Equal(256 * GiB, node.MemoryBytes);
        Assert.Empty(plan.Spill);
        Assert.Equal(4, plan.FragmentationAfter.FreeWholeGpus);
        Assert.Equal(1, plan.FragmentationAfter.FreeWholeNumaNodes);
    }

    [Fact]
    public void Prefer_packs_vcpus_onto_whole_cores_siblings_together()
    {
        LeasePlan plan = Planned(Topologies.DgxH100, Request(vcpus: 4));

        Assert.Equal([0, 112, 1, 113], plan.VcpuPins);
        Assert.Equal(0, plan.FragmentationAfter.SplitCores);
    }

    [Fact]
    public void A_second_single_gpu_lease_goes_to_the_node_already_in_use()
    {
        LeasePlan first = Planned(Topologies.DgxH100, Request(gpus: 1));
        LeasePlan second = Planned(Topologies.DgxH100, Request(gpus: 1), [first]);

        Assert.Equal(first.Devices[0].NumaNode, second.Devices[0].NumaNode);
        Assert.NotEqual(first.Devices[0].Address, second.Devices[0].Address);
        Assert.Equal(1, second.FragmentationAfter.FreeWholeNumaNodes);
        Assert.Equal(6, second.FragmentationAfter.FreeWholeGpus);
    }

    [Fact]
    public void Host_reserved_cpus_are_never_handed_out()
    {
        CpuSet reserved = CpuSet.Parse("0-3,112-115");
        LeasePlan plan = Planned(Topologies.DgxH100, Request(vcpus: 100, memoryGiB: 8), reserved: reserved);

        Assert.False(CpuSet.Of(plan.VcpuPins).Overlaps(reserved));
        Assert.Equal(reserved, plan.EmulatorCpus);
    }

    [Fact]
    public void Isolate_gives_each_vcpu_a_core_and_keeps_its_sibling_idle()
    {
        LeasePlan plan = Planned(Topologies.DgxH100, Request(vcpus: 3, thread: CpuThreadPolicy.Isolate));

        Assert.Equal([0, 1, 2], plan.VcpuPins);
        Assert.Equal(CpuSet.Parse("112-114"), plan.Nodes[0].ReservedSiblings);
        Assert.Equal(CpuSet.Parse("0-2,112-114"), plan.ClaimedCpus);
    }

    [Fact]
    public void Require_places_vcpus_on_sibling_pairs_of_whole_cores()
    {
        LeasePlan plan = Planned(Topologies.DgxH100, Request(vcpus: 3, thread: CpuThreadPolicy.Require));

        Assert.Equal([0, 112, 1], plan.VcpuPins);
        Assert.Equal(CpuSet.Of(113), plan.Nodes[0].ReservedSiblings);
    }

    [Fact]
    public void Require_is_refused_on_a_host_without_smt()
    {
        LeaseRefusal refusal = Refused(Topologies.Gh200, Request(vcpus: 2, thread: CpuThreadPolicy.Require));

        Assert.Equal(RefusalKind.InvalidRequest, refusal.Kind);
        Assert.Equal("thread_policy", refusal.Field);
    }

    [Fact]
    public void Isolated_emulator_threads_get_one_extra_core_on_the_lease_node()
    {
        LeasePlan plan = Planned(Topologies.DgxH100, Request(gpus: 1, vcpus: 4, emulator: EmulatorThreadPolicy.Isolate));

        Assert.Equal(CpuSet.Parse("2,114"), plan.EmulatorCpus);
        Assert.False(plan.EmulatorCpus.Overlaps(CpuSet.Of(plan.VcpuPins)));
        Assert.True(plan.EmulatorCpus.IsSubsetOf(Topologies.DgxH100.NumaNodes[0].Cpus));
        Assert.True(plan.EmulatorCpus.IsSubsetOf(plan.ClaimedCpus));
    }

    [Fact]
    public void A_gh200_gpu_on_a_cpu_less_node_gets_cpus_and_memory_from_the_grace_node()
    {
        LeasePlan plan = Planned(Topologies.Gh200, Request(gpus: 1, vcpus: 16, memoryGiB: 64));

        Assert.Equal(1, plan.Devices[0].NumaNode);
        NodeAllocation node = Assert.Single(plan.Nodes);
        Assert.Equal(0, node.Node);
        Assert.Equal(64 * GiB, node.MemoryBytes);
    }

    [Fact]
    public void Required_numa_refuses_and_names_the_node_that_fell_short()
    {
        LeaseRefusal refusal = Refused(Topologies.DgxH100, Request(gpus: 1, vcpus: 8, memoryGiB: 1000));

        Assert.Equal(RefusalKind.Insufficient, refusal.Kind);
        Assert.Equal("memory", refusal.Field);
        Assert.Equal(0, refusal.Node);
        Assert.Contains("1000 1G pages asked, 900 free on NUMA node(s) 0", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Preferred_numa_spills_to_the_nearest_node_and_says_so()
    {
        LeasePlan plan = Planned(Topologies.DgxH100, Request(gpus: 1, vcpus: 120, memoryGiB: 1000, numa: NumaPolicy.Preferred));

        Assert.Equal([0, 1], plan.Nodes.Select(n => n.Node));
        Assert.Equal(900 * GiB, plan.Nodes[0].MemoryBytes);
        Assert.Equal(100 * GiB, plan.Nodes[1].MemoryBytes);
        Assert.Equal(110, plan.Nodes[0].VcpuCpus.Count); // node 0's last core is host-reserved
        Assert.Equal(["10 vCPU(s) on node 1", "100 1G page(s) on node 1"], plan.Spill);
    }

    [Fact]
    public void Without_devices_the_smallest_node_that_fits_is_chosen_on_four_sockets()
    {
        LeasePlan first = Planned(Topologies.FourSocket, Request(vcpus: 40, memoryGiB: 100));
        LeasePlan second = Planned(Topologies.FourSocket, Request(vcpus: 6, memoryGiB: 8), [first]); // node of 46 leasable CPUs: 6 left

        Assert.Equal(first.Nodes[0].Node, second.Nodes[0].Node);
        Assert.Equal(3, second.FragmentationAfter.FreeWholeNumaNodes);
    }

    [Fact]
    public void Gpus_on_two_nodes_split_vcpus_and_memory_into_two_guest_cells()
    {
        LeasePlan plan = Planned(Topologies.FourSocket, Request(gpus: 2, vcpus: 8, memoryGiB: 16));

        Assert.Equal(2, plan.Nodes.Count);
        Assert.All(plan.Nodes, n => Assert.Equal(4, n.VcpuCpus.Count));
        Assert.All(plan.Nodes, n => Assert.Equal(8 * GiB, n.MemoryBytes));
        Assert.Equal(plan.Devices.Select(d => d.NumaNode!.Value).Order(), plan.Nodes.Select(n => n.Node).Order());
    }

    [Fact]
    public void A_gpu_takes_its_iommu_group_audio_function_but_not_the_bridge()
    {
        LeasePlan plan = Planned(Topologies.Workstation, Request(gpus: 1, vcpus: 2, memoryGiB: 2, page: PageSize.Huge2M));

        Assert.Equal([DeviceRole.Gpu, DeviceRole.IommuCompanion], plan.Devices.Select(d => d.Role));
        Assert.Equal(PciAddress.Parse("0000:01:00.1"), plan.Devices[1].Address);
        Assert.Equal("snd_hda_intel", plan.Devices[1].OriginalDriver);
    }

    [Fact]
    public void An_unknown_gpu_model_is_refused_naming_the_field_and_what_the_host_has()
    {
        LeaseRefusal refusal = Refused(Topologies.DgxH100, Request(gpus: 1, model: "B200"));

        Assert.Equal(RefusalKind.InvalidRequest, refusal.Kind);
        Assert.Equal("gpus.model", refusal.Field);
        Assert.Contains("H100 SXM5 80GB", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void More_gpus_than_the_host_has_is_an_invalid_request_not_a_shortage()
    {
        LeaseRefusal refusal = Refused(Topologies.DgxH100, Request(gpus: 9));

        Assert.Equal(RefusalKind.InvalidRequest, refusal.Kind);
        Assert.Equal("gpus.count", refusal.Field);
    }

    [Fact]
    public void More_gpus_than_are_free_is_a_shortage_with_the_count_per_node()
    {
        LeasePlan first = Planned(Topologies.DgxH100, Request(gpus: 6));
        LeaseRefusal refusal = Refused(Topologies.DgxH100, Request(gpus: 3), [first]);

        Assert.Equal(RefusalKind.Insufficient, refusal.Kind);
        Assert.Equal("3 asked, 2 free (node 0: 0 of 4, node 1: 2 of 4)", refusal.Message);
    }

    [Fact]
    public void An_nvlink_set_is_refused_on_a_host_without_nvswitch()
    {
        LeaseRequest request = Request() with { Gpus = new GpuRequest(2, NvlinkConnected: true) };

        Assert.Equal("gpus.nvlink", Refused(Topologies.FourSocket, request).Field);
        Assert.True(LeasePlanner.Plan(new PlanningContext(Topologies.DgxH100, [], LeaseTestHost.LastCores(Topologies.DgxH100)), request).Succeeded);
    }

    [Fact]
    public void Memory_that_is_not_whole_pages_is_refused()
    {
        LeaseRequest request = Request() with { MemoryBytes = (3 * GiB) / 2 };

        Assert.Equal("memory", Refused(Topologies.DgxH100, request).Field);
    }

    [Fact]
    public void A_ttl_that_is_not_in_the_future_is_refused()
    {
        LeaseRequest request = Request() with { Ttl = TimeSpan.FromSeconds(-5) };

        Assert.Equal("ttl", Refused(Topologies.DgxH100, request).Field);
    }

    [Fact]
    public void Mig_instances_use_nvml_placements_and_pack_onto_one_gpu()
    {
        PciAddress gpu0 = PciAddress.Parse("0000:18:00.0");
        PciAddress gpu1 = PciAddress.Parse("0000:2a:00.0");
        MigCapacity[] capacity =
        [
            new(gpu0, "1g.10gb", [(0, 1), (1, 1), (2, 1)]),
            new(gpu1, "1g.10gb", [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1)]),
        ];
        var context = new PlanningContext(Topologies.DgxH100, [], LeaseTestHost.LastCores(Topologies.DgxH100), capacity);
        LeaseRequest request = Request() with { Mig = new MigRequest("1g.10gb") };

        LeasePlan first = LeasePlanner.Plan(context, request).Plan!;
        LeasePlan second = LeasePlanner.Plan(context with { Current = [first] }, request).Plan!;

        Assert.Equal(new MigPlacement(gpu0, "1g.10gb", 0, 1), first.Mig);
        Assert.Equal(new MigPlacement(gpu0, "1g.10gb", 1, 1), second.Mig);
        Assert.Equal("mig.profile", Refused(Topologies.DgxH100, Request() with { Mig = new MigRequest("7g.80gb") }, mig: capacity).Field);
        Assert.Equal("gpus.count", Refused(Topologies.DgxH100, Request(gpus: 7), mig: capacity).Field);
    }
}
