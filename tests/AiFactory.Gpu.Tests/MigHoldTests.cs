using AiFactory.Agent.Gpu;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Planning.Mig;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// GPU instances a lease holds are never destroyed or re-partitioned by a MIG layout (<c>mig apply</c>, the node
/// profile): the planner places the layout around them and refuses, naming the lease and the GPU, when it cannot.
/// </summary>
[Collection("fake-nvml")]
public sealed class MigHoldTests
{
    private static readonly MigProfileTable H100 = Profiles.Load("h100-80gb");
    private static readonly PciAddress Gpu0 = PciAddress.Parse("0000:18:00.0");

    private static MigInstance Existing(uint id, string profile, uint start) =>
        new(id, H100.Find(profile)!.Id, profile, new MigPlacement(start, H100.Find(profile)!.MemorySlices), [new MigComputeInstance(0, 0, profile, 0, 1)]);

    private static MigHold Held(string profile, uint start, string lease = "lease-00000000000a") =>
        new(Gpu0, profile, new MigPlacement(start, H100.Find(profile)!.MemorySlices), lease);

    [Fact]
    public void A_layout_that_leaves_out_a_held_instance_keeps_it_and_places_the_rest_around_it()
    {
        MigInstance leased = Existing(1, "1g.10gb", 6);
        MigInstance threeG = Existing(2, "3g.40gb", 0);

        MigPlan plan = MigPlanner.Plan(H100, [leased, threeG], ["3g.40gb", "2g.20gb"], held: [Held("1g.10gb", 6)]);

        Assert.False(plan.IsRefused, plan.Refusal);
        Assert.Empty(plan.Destroy);
        Assert.Equal([threeG, leased], plan.Keep);
        Assert.Equal(["2g.20gb@4:2"], plan.Create.Select(c => c.ToString()));
    }

    [Fact]
    public void A_held_instance_is_not_taken_as_one_of_the_wanted_profiles()
    {
        MigInstance leased = Existing(1, "1g.10gb", 0);

        MigPlan plan = MigPlanner.Plan(H100, [leased], ["1g.10gb"], held: [Held("1g.10gb", 0)]);

        Assert.Equal([leased], plan.Keep);
        Assert.NotEqual(0u, Assert.Single(plan.Create).Placement.Start);
    }

    [Fact]
    public void A_layout_that_needs_a_held_instances_slices_is_refused_naming_the_lease_and_the_GPU()
    {
        MigPlan plan = MigPlanner.Plan(H100, [Existing(1, "1g.10gb", 2)], ["4g.40gb"], held: [Held("1g.10gb", 2)]);

        Assert.True(plan.IsRefused);
        Assert.Equal("cannot place 4g.40gb: slot 0:4 is blocked by 1g.10gb@2:1 on 0000:18:00.0 held by lease lease-00000000000a", plan.Refusal);
    }

    [Fact]
    public void A_layout_over_budget_with_the_held_instances_says_which_must_stay()
    {
        MigPlan plan = MigPlanner.Plan(H100, [], ["7g.80gb"], held: [Held("1g.10gb", 6)]);

        Assert.True(plan.IsRefused);
        Assert.Contains("needs 8 compute slices; this GPU has 7 (1g.10gb@6:1 on 0000:18:00.0 held by lease lease-00000000000a must stay)", plan.Refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void A_held_placement_NVML_no_longer_lists_stays_reserved()
    {
        MigPlan plan = MigPlanner.Plan(H100, [], Enumerable.Repeat("1g.10gb", 6).ToList(), held: [Held("1g.10gb", 3)]);

        Assert.False(plan.IsRefused, plan.Refusal);
        Assert.DoesNotContain(plan.Create, c => c.Placement.Start == 3);
    }

    [Fact]
    public void Mig_apply_keeps_the_instance_a_lease_holds_and_replaces_only_the_others()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true);
        server.Applier.CreateAt("0", "1g.10gb", 6, 1);
        server.Applier.CreateAt("0", "1g.10gb", 0, 1);
        var applier = new MigApplier(server.Nvml, server.Inventory, new FixedMigHolds(Held("1g.10gb", 6)));

        MigApplyResult result = applier.Apply("0", ["3g.40gb"], keepExisting: false);

        Assert.False(result.Plan.IsRefused, result.Plan.Refusal);
        Assert.Equal(["3g.40gb@0:4", "1g.10gb@6:1"], Layout(server));
        Assert.Contains(result.Steps, s => s.StartsWith("destroyed 1g.10gb@0:1", StringComparison.Ordinal));
    }

    [Fact]
    public void Mig_apply_of_a_layout_that_conflicts_with_a_held_instance_is_refused_and_changes_nothing()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true);
        server.Applier.CreateAt("0", "1g.10gb", 2, 1);
        server.Applier.CreateAt("0", "2g.20gb", 4, 2);
        var applier = new MigApplier(server.Nvml, server.Inventory, new FixedMigHolds(Held("1g.10gb", 2)));

        MigApplyResult result = applier.Apply("0", ["4g.40gb"], keepExisting: false);

        Assert.True(result.Plan.IsRefused);
        Assert.Contains("held by lease lease-00000000000a", result.Plan.Refusal, StringComparison.Ordinal);
        Assert.Contains("0000:18:00.0", result.Plan.Refusal, StringComparison.Ordinal);
        Assert.Empty(result.Steps);
        Assert.Equal(["1g.10gb@2:1", "2g.20gb@4:2"], Layout(server));
    }

    [Fact]
    public void A_held_instance_is_destroyed_only_by_its_own_lease_and_MIG_is_not_disabled_under_it()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true);
        server.Applier.CreateAt("0", "1g.10gb", 6, 1);
        var applier = new MigApplier(server.Nvml, server.Inventory, new FixedMigHolds(Held("1g.10gb", 6)));

        var destroy = Assert.Throws<MigRefusedException>(() => applier.DestroyAt("0", "1g.10gb", 6));
        var disable = Assert.Throws<MigRefusedException>(() => applier.SetMode("0", enabled: false, reset: true, resetAllowed: true));

        Assert.Contains("held by lease lease-00000000000a", destroy.Message, StringComparison.Ordinal);
        Assert.Contains("disabling MIG on 0000:18:00.0 would destroy 1g.10gb@6:1", disable.Message, StringComparison.Ordinal);
        Assert.Equal(["1g.10gb@6:1"], Layout(server));
        Assert.True(server.Nvml.Require().GetMigMode(server.Nvml.Require().GetDevice(0)) is (true, _));

        Assert.True(applier.DestroyAt("0", "1g.10gb", 6, forLease: "lease-00000000000a"));
        Assert.Empty(Layout(server));
    }

    private static List<string> Layout(FakeServer server)
    {
        INvml api = server.Nvml.Require();
        NvmlDevice gpu = api.GetDevice(0);
        return [.. MigReader.ReadInstances(api, gpu, MigReader.ReadProfiles(api, gpu)).Select(i => $"{i.Profile}@{i.Placement}")];
    }
}
