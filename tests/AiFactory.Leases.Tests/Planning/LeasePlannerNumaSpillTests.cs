using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>
/// NUMA policy at the edges: under <c>required</c> whatever does not fit on the devices' node(s) is refused, naming
/// the resource and the node; under <c>preferred</c> it goes to the nearest other node and every such resource is
/// stated in the plan's spill — VFs included.
/// </summary>
public sealed class LeasePlannerNumaSpillTests
{
    private const long GiB = 1L << 30;

    private static LeaseRequest Request(NumaPolicy numa, int gpus = 0, VfRequest? vfs = null, int vcpus = 4, EmulatorThreadPolicy emulator = EmulatorThreadPolicy.Share) => new()
    {
        Owner = "tenant-b",
        Gpus = gpus > 0 ? new GpuRequest(gpus) : null,
        Vfs = vfs,
        Vcpus = vcpus,
        MemoryBytes = 4 * GiB,
        PageSize = PageSize.Huge1G,
        NumaPolicy = numa,
        EmulatorThreads = emulator,
    };

    private static PlanResult Plan(HostTopology topology, LeaseRequest request) =>
        LeasePlanner.Plan(new PlanningContext(topology, [], LeaseTestHost.LastCores(topology)), request);

    private static LeasePlan Planned(HostTopology topology, LeaseRequest request)
    {
        PlanResult result = Plan(topology, request);
        Assert.True(result.Succeeded, result.Refusal?.ToString());
        return result.Plan!;
    }

    private static LeaseRefusal Refused(HostTopology topology, LeaseRequest request)
    {
        PlanResult result = Plan(topology, request);
        Assert.False(result.Succeeded);
        return result.Refusal!;
    }

    [Fact]
    public void Vfs_only_on_another_socket_are_refused_under_required_naming_the_vfs_and_the_gpu_node()
    {
        LeaseRefusal refusal = Refused(Topologies.NicOnOtherSocket, Request(NumaPolicy.Required, gpus: 1, vfs: new VfRequest(2, PairWithGpus: false)));

        Assert.Equal(RefusalKind.Insufficient, refusal.Kind);
        Assert.Equal("vfs.count", refusal.Field);
        Assert.Equal(0, refusal.Node);
        Assert.Equal("2 asked, 0 free on NUMA node(s) 0 of the GPU(s) (4 free on the host); numa policy required", refusal.Message);
    }

    [Fact]
    public void Vfs_only_on_another_socket_spill_under_preferred_and_each_vf_is_stated()
    {
        LeasePlan plan = Planned(Topologies.NicOnOtherSocket, Request(NumaPolicy.Preferred, gpus: 1, vfs: new VfRequest(2, PairWithGpus: false)));

        Assert.Equal(
            [
                "VF 0000:98:00.2 (PF 0000:98:00.0) on node 1, off the lease's NUMA node(s) 0",
                "VF 0000:98:00.3 (PF 0000:98:00.0) on node 1, off the lease's NUMA node(s) 0",
            ],
            plan.Spill);
        Assert.All(plan.Devices.Where(d => d.Role == DeviceRole.VirtualFunction), vf => Assert.Equal(1, vf.NumaNode));
        // The spilled VFs do not drag the guest's vCPUs and memory off the GPU's node.
        NodeAllocation cell = Assert.Single(plan.Nodes);
        Assert.Equal(0, cell.Node);
        Assert.Equal(4 * GiB, cell.MemoryBytes);
    }

    [Fact]
    public void Paired_vfs_need_a_nic_under_the_gpus_switch_whatever_the_numa_policy()
    {
        LeaseRefusal refusal = Refused(Topologies.NicOnOtherSocket, Request(NumaPolicy.Preferred, gpus: 1, vfs: new VfRequest(1, PairWithGpus: true)));

        Assert.Equal("vfs.count", refusal.Field);
        Assert.Equal(0, refusal.Node);
        Assert.Equal("no free VF of a NIC under the PCIe switch of GPU 0000:17:00.0", refusal.Message);
    }

    [Fact]
    public void More_vfs_than_the_gpu_node_has_are_refused_under_required_with_the_count_there()
    {
        LeaseRefusal refusal = Refused(Topologies.DgxH100, Request(NumaPolicy.Required, gpus: 1, vfs: new VfRequest(17, PairWithGpus: false)));

        Assert.Equal("vfs.count", refusal.Field);
        Assert.Equal(0, refusal.Node);
        Assert.Equal("17 asked, 16 free on NUMA node(s) 0 of the GPU(s) (32 free on the host); numa policy required", refusal.Message);
    }

    [Fact]
    public void More_vfs_than_the_gpu_node_has_take_the_rest_from_the_nearest_node_under_preferred()
    {
        LeasePlan plan = Planned(Topologies.DgxH100, Request(NumaPolicy.Preferred, gpus: 1, vfs: new VfRequest(17, PairWithGpus: false)));

        Assert.Equal(16, plan.Devices.Count(d => d.Role == DeviceRole.VirtualFunction && d.NumaNode == 0));
        Assert.Equal(["VF 0000:9b:01.0 (PF 0000:9b:00.0) on node 1, off the lease's NUMA node(s) 0"], plan.Spill);
        Assert.Equal([0], plan.Nodes.Select(n => n.Node));
    }

    [Fact]
    public void Vfs_without_gpus_that_no_single_node_has_are_refused_under_required_naming_the_fullest_node()
    {
        LeaseRefusal refusal = Refused(Topologies.DgxH100, Request(NumaPolicy.Required, vfs: new VfRequest(20, PairWithGpus: false)));

        Assert.Equal("vfs.count", refusal.Field);
        Assert.Equal(0, refusal.Node);
        Assert.Equal("20 asked, at most 16 free on one NUMA node (node 0); numa policy required", refusal.Message);
    }

    [Fact]
    public void Vfs_without_gpus_fill_one_node_and_state_the_rest_under_preferred()
    {
        LeasePlan plan = Planned(Topologies.DgxH100, Request(NumaPolicy.Preferred, vfs: new VfRequest(20, PairWithGpus: false)));

        Assert.Equal(16, plan.Devices.Count(d => d.NumaNode == 0));
        Assert.Equal(4, plan.Spill.Count);
        Assert.All(plan.Spill, s => Assert.EndsWith("on node 1, off the lease's NUMA node(s) 0", s, StringComparison.Ordinal));
        Assert.Equal([0], plan.Nodes.Select(n => n.Node));
    }

    [Fact]
    public void An_isolated_emulator_core_that_does_not_fit_is_refused_under_required_and_stated_under_preferred()
    {
        // Node 0 of the DGX has 110 leasable CPUs (its last core is host-reserved): all of them go to vCPUs, so the
        // emulator's own core has no room there.
        LeaseRefusal refusal = Refused(Topologies.DgxH100, Request(NumaPolicy.Required, gpus: 1, vcpus: 110, emulator: EmulatorThreadPolicy.Isolate));
        LeasePlan plan = Planned(Topologies.DgxH100, Request(NumaPolicy.Preferred, gpus: 1, vcpus: 110, emulator: EmulatorThreadPolicy.Isolate));

        Assert.Equal("emulator_threads", refusal.Field);
        Assert.Equal(0, refusal.Node);
        Assert.Equal(["emulator core on node 1"], plan.Spill);
        Assert.True(plan.EmulatorCpus.IsSubsetOf(Topologies.DgxH100.NumaNodes[1].Cpus));
    }
}
