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
    [InlineData("workstation")]
    public void Every_fixture_can_lease_one_gpu_with_cpus_on_a_node_that_has_cpus(string name)
    {
        HostTopology topology = FixtureTopologies.Load(name);
        long pageBytes = topology.NumaNodes.SelectMany(n => n.Hugepages).Any(p => p.PageSizeKiB == 1024 * 1024 && p.Total > 0) ? GiB : 4096;
        var request = new LeaseRequest { Owner = "t", Gpus = new GpuRequest(1), Vcpus = 2, MemoryBytes = GiB, PageSize = pageBytes == GiB ? PageSize.Huge1G : PageSize.Small4K };

        PlanResult result = LeasePlanner.Plan(new PlanningContext(topology, [], LeaseTestHost.LastCores(topology)), request);

        Assert.True(result.Succeeded, $"{name}: {result.Refusal}");
        Assert.All(result.Plan!.Nodes, n => Assert.True(topology.NumaNodes.Single(x => x.Id == n.Node).HasCpus));
    }
}
