using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>The planner on the captured servers as discovery reads them.</summary>
public sealed class LeasePlannerFixtureTests
{
    private const long GiB = 1L << 30;

    [Fact]
    public void On_the_dgx_h100_fixture_four_gpus_and_64_vcpus_fit_one_node()
    {
        // As captured, the fixture has 64 1G pages per node and 2 VFs (on a PF that shares no switch with a GPU):
        // the full 4-VF + 256 GiB lease needs the node profile applied first (see the literal DgxH100 tests).
        HostTopology dgx = FixtureTopologies.Load("dgx-h100");
        var request = new LeaseRequest { Owner = "t", Gpus = new GpuRequest(4), Vcpus = 64, MemoryBytes = 48 * GiB, PageSize = PageSize.Huge1G };

        PlanResult result = LeasePlanner.Plan(new PlanningContext(dgx, [], LeaseTestHost.LastCores(dgx)), request);

        Assert.True(result.Succeeded, result.Refusal?.ToString());
        LeasePlan plan = result.Plan!;
        Assert.Equal(224, dgx.Cpus.Online.Count);
        NodeAllocation node = Assert.Single(plan.Nodes);
        Assert.All(plan.Devices.Where(d => d.Role != DeviceRole.IommuCompanion), d => Assert.Equal(node.Node, d.NumaNode));
        Assert.Equal(4, plan.Devices.Count(d => d.Role == DeviceRole.Gpu));
        Assert.Equal(64, node.VcpuCpus.Count);
        Assert.Equal(4, plan.FragmentationAfter.FreeWholeGpus);
    }

    [Fact]
    public void On_the_dgx_h100_fixture_only_the_free_1G_pages_of_node_1_are_offered_not_its_whole_pool()
    {
        // Node 1's 1G pool: 64 pages, 60 free (4 used by something that is not a lease); node 0's: 64, all free.
        HostTopology dgx = FixtureTopologies.Load("dgx-h100");
        HugepagePool pool1 = dgx.NumaNodes.Single(n => n.Id == 1).Hugepages.Single(p => p.PageSizeKiB == 1024 * 1024);
        Assert.Equal((64, 60), (pool1.Total, pool1.Free));
        LeaseRequest FourGpus(long gib) => new() { Owner = "t", Gpus = new GpuRequest(4), Vcpus = 8, MemoryBytes = gib * GiB, PageSize = PageSize.Huge1G, NumaPolicy = NumaPolicy.Required };
        PlanResult Plan(LeaseRequest request, params LeasePlan[] current) => LeasePlanner.Plan(new PlanningContext(dgx, current, LeaseTestHost.LastCores(dgx)), request);

        PlanResult first = Plan(FourGpus(64));
        Assert.True(first.Succeeded, first.Refusal?.ToString());
        Assert.Equal(0, Assert.Single(first.Plan!.Nodes).Node);

        PlanResult second = Plan(FourGpus(64), first.Plan!);

        Assert.Equal("memory", second.Refusal?.Field);
        Assert.Equal("64 1G pages asked, 60 free on NUMA node(s) 1; numa policy required", second.Refusal!.Message);
        PlanResult fits = Plan(FourGpus(60), first.Plan!);
        Assert.True(fits.Succeeded, fits.Refusal?.ToString());
        Assert.Equal(1, Assert.Single(fits.Plan!.Nodes).Node);
    }

    [Fact]
    public void On_the_dgx_h100_fixture_paired_vfs_are_refused_where_no_nic_vf_shares_the_gpus_switch()
    {
        HostTopology dgx = FixtureTopologies.Load("dgx-h100");
        var request = new LeaseRequest { Owner = "t", Gpus = new GpuRequest(1), Vfs = new VfRequest(1), Vcpus = 2, MemoryBytes = GiB };

        PlanResult result = LeasePlanner.Plan(new PlanningContext(dgx, [], LeaseTestHost.LastCores(dgx)), request);

        Assert.Equal("vfs.count", result.Refusal?.Field);
        Assert.Contains("under the PCIe switch of GPU", result.Refusal!.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dgx-h100")]
    [InlineData("hgx-a100")]
    [InlineData("gh200")]
    public void Every_server_fixture_can_lease_one_gpu_with_cpus_on_a_node_that_has_cpus(string name)
    {
        HostTopology topology = FixtureTopologies.Load(name);
        long pageBytes = topology.NumaNodes.SelectMany(n => n.Hugepages).Any(p => p.PageSizeKiB == 1024 * 1024 && p.Total > 0) ? GiB : 4096;
        var request = new LeaseRequest { Owner = "t", Gpus = new GpuRequest(1), Vcpus = 2, MemoryBytes = GiB, PageSize = pageBytes == GiB ? PageSize.Huge1G : PageSize.Small4K };

        PlanResult result = LeasePlanner.Plan(new PlanningContext(topology, [], LeaseTestHost.LastCores(topology)), request);

        Assert.True(result.Succeeded, $"{name}: {result.Refusal}");
        Assert.All(result.Plan!.Nodes, n => Assert.True(topology.NumaNodes.Single(x => x.Id == n.Node).HasCpus));
    }

    [Fact]
    public void On_the_workstation_fixture_the_gpu_that_shares_its_iommu_group_with_the_management_nic_is_never_leased()
    {
        // RTX A6000 (01:00.0), its audio function and the Intel NIC of the default route (02:00.0) are one IOMMU group:
        // leasing the GPU would bind the NIC to vfio-pci and cut the host off its network.
        HostTopology workstation = FixtureTopologies.Load("workstation");
        var request = new LeaseRequest { Owner = "t", Gpus = new GpuRequest(1), Vcpus = 2, MemoryBytes = GiB };

        PlanResult result = LeasePlanner.Plan(new PlanningContext(workstation, [], LeaseTestHost.LastCores(workstation)), request);

        Assert.False(result.Succeeded, "the GPU was leased with the management NIC as its companion");
        Assert.Equal(RefusalKind.Insufficient, result.Refusal!.Kind);
        Assert.Equal("gpus.count", result.Refusal.Field);
        Assert.Equal(
            "1 asked, 0 free (node -1: 0 of 1); 1 never leased because the host needs a device of its IOMMU group " +
            "(0000:01:00.0: its IOMMU group also holds 0000:02:00.0, the management NIC (enp2s0 carries the default route)): " +
            "binding the group to vfio-pci would take that device from the host",
            result.Refusal.Message);
    }

    [Fact]
    public void On_the_workstation_fixture_the_gpu_is_leased_when_nothing_in_its_group_is_host_needed()
    {
        HostTopology workstation = FixtureTopologies.Load("workstation");
        HostTopology noRoute = workstation with { HostNeeded = workstation.HostNeeded.Where(kv => kv.Key != PciAddress.Parse("0000:02:00.0")).ToDictionary() };
        var request = new LeaseRequest { Owner = "t", Gpus = new GpuRequest(1), Vcpus = 2, MemoryBytes = GiB, PageSize = PageSize.Small4K };

        PlanResult result = LeasePlanner.Plan(new PlanningContext(noRoute, [], LeaseTestHost.LastCores(noRoute)), request);

        Assert.True(result.Succeeded, result.Refusal?.ToString());
        Assert.Contains(result.Plan!.Devices, d => d.Address == PciAddress.Parse("0000:02:00.0") && d.Role == DeviceRole.IommuCompanion);
    }
}
