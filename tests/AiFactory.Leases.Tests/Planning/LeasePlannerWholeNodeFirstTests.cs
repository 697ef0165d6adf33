using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>
/// Under numa policy preferred a lease spills across NUMA nodes only when no node holds it whole: the devices' best
/// fit may pick a node too busy for the vCPUs, and then another node that has room for everything wins.
/// </summary>
public sealed class LeasePlannerWholeNodeFirstTests
{
    private const long GiB = 1L << 30;

    private static LeaseRequest Gpus(int gpus, int vcpus, NumaPolicy numa) => new()
    {
        Owner = "tenant-b",
        Gpus = new GpuRequest(gpus),
        Vcpus = vcpus,
        MemoryBytes = 8 * GiB,
        PageSize = PageSize.Huge1G,
        NumaPolicy = numa,
    };

    /// <summary>The dgx-h100 fixture with 3 GPUs and 100 of node 0's 110 leasable CPUs taken by a lease.</summary>
    private static (HostTopology Dgx, LeasePlan Busy) NodeZeroMostlyTaken()
    {
        HostTopology dgx = FixtureTopologies.Load("dgx-h100");
        PlanResult busy = LeasePlanner.Plan(new PlanningContext(dgx, [], LeaseTestHost.LastCores(dgx)), Gpus(3, 100, NumaPolicy.Required));
        Assert.True(busy.Succeeded, busy.Refusal?.ToString());
        Assert.Equal(0, Assert.Single(busy.Plan!.Nodes).Node);
        return (dgx, busy.Plan!);
    }

    [Fact]
    public void On_the_dgx_h100_fixture_a_preferred_lease_goes_whole_to_the_node_that_holds_it_rather_than_spill_from_node_0()
    {
        // Node 0 has 1 free GPU (the best fit for one) but only 10 free CPUs; node 1 has 4 GPUs and 110 CPUs free.
        (HostTopology dgx, LeasePlan busy) = NodeZeroMostlyTaken();

        PlanResult result = LeasePlanner.Plan(new PlanningContext(dgx, [busy], LeaseTestHost.LastCores(dgx)), Gpus(1, 32, NumaPolicy.Preferred));

        Assert.True(result.Succeeded, result.Refusal?.ToString());
        LeasePlan plan = result.Plan!;
        Assert.Empty(plan.Spill);
        NodeAllocation node = Assert.Single(plan.Nodes);
        Assert.Equal(1, node.Node);
        Assert.Equal(32, node.VcpuCpus.Count);
        Assert.All(plan.Devices.Where(d => d.Role == DeviceRole.Gpu), d => Assert.Equal(1, d.NumaNode));
    }

    [Fact]
    public void On_the_dgx_h100_fixture_a_preferred_lease_that_no_node_holds_whole_still_spills()
    {
        // 112 vCPUs: more than the 110 leasable CPUs of either node.
        (HostTopology dgx, LeasePlan busy) = NodeZeroMostlyTaken();

        PlanResult result = LeasePlanner.Plan(new PlanningContext(dgx, [busy], LeaseTestHost.LastCores(dgx)), Gpus(1, 112, NumaPolicy.Preferred));

        Assert.True(result.Succeeded, result.Refusal?.ToString());
        Assert.NotEmpty(result.Plan!.Spill);
        Assert.Equal(112, result.Plan.Nodes.Sum(n => n.VcpuCpus.Count));
    }

    [Fact]
    public void On_the_dgx_h100_fixture_a_lease_that_fits_its_gpus_node_whole_stays_there()
    {
        (HostTopology dgx, LeasePlan busy) = NodeZeroMostlyTaken();

        PlanResult result = LeasePlanner.Plan(new PlanningContext(dgx, [busy], LeaseTestHost.LastCores(dgx)), Gpus(1, 8, NumaPolicy.Preferred));

        Assert.True(result.Succeeded, result.Refusal?.ToString());
        Assert.Empty(result.Plan!.Spill);
        Assert.Equal(0, Assert.Single(result.Plan.Nodes).Node);
    }
}
