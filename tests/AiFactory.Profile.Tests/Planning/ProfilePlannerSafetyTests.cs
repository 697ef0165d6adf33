using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Profile;

namespace AiFactory.Profile.Tests.Planning;

/// <summary>
/// What the planner refuses so that an apply cannot hurt the host: hugepages past a node's memory (overflow
/// included) or on a node of unknown memory, bridges and PFs with live VFs as vfio targets, VFs whose PF is remade,
/// busy GPUs, whatever leases hold, and values that could not be read.
/// </summary>
public class ProfilePlannerSafetyTests
{
    private static readonly PciAddress Pf = PciAddress.Parse("0000:17:00.0");

    private static DeviceSelector Sel(string text) => DeviceSelector.TryParse(text, out DeviceSelector? s, out string? e) ? s : throw new ArgumentException(e);

    private static NodeProfile Vfio(params string[] devices) => new() { Vfio = new VfioProfile([.. devices.Select(Sel)], []) };

    private static NodeProfile Pages(params HugepageProfile[] pools) => new() { Hugepages = pools };

    // Values that could not be read (audit finding 8).

    [Fact]
    public void An_unreadable_pool_size_refuses_that_pool_and_plans_the_others()
    {
        var state = new ProfileCurrentState
        {
            Unreadable = [new UnreadableValue("devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages", "errno 5 (Input/output error)") { Node = 1, PageSizeKiB = 2048 }],
        };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, Pages(new HugepageProfile(0, 2048, 64), new HugepageProfile(1, 2048, 64)));

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("hugepages[1].count", error.Field);
        Assert.Contains("devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages cannot be read (errno 5 (Input/output error))", error.Reason);
    }

    [Fact]
    public void An_unreadable_sriov_numvfs_refuses_that_pf()
    {
        var state = new ProfileCurrentState { Unreadable = [new UnreadableValue("bus/pci/devices/0000:17:00.0/sriov_numvfs", "not a number: \"x\"") { Device = Pf }] };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, new NodeProfile { Sriov = [new SriovProfile(Pf, 4, null, null)] });

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("sriov[0]", error.Field);
        Assert.Contains("bus/pci/devices/0000:17:00.0/sriov_numvfs cannot be read (not a number: \"x\")", error.Reason);
    }
}
