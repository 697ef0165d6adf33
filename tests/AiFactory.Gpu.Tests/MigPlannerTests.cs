using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Planning.Mig;

namespace AiFactory.Gpu.Tests;

public sealed class MigPlannerTests
{
    private static readonly MigProfileTable H100 = Profiles.Load("h100-80gb");

    private static MigInstance Existing(uint id, string profile, uint start) =>
        new(id, H100.Find(profile)!.Id, profile, new MigPlacement(start, H100.Find(profile)!.MemorySlices), [new MigComputeInstance(0, 0, profile, 0, 1)]);

    private static void AssertValid(MigProfileTable table, MigPlan plan)
    {
        Assert.False(plan.IsRefused, plan.Refusal);
        var all = plan.Keep.Select(k => (table.Find(k.ProfileId)!, k.Placement)).Concat(plan.Create.Select(c => (c.Profile, c.Placement))).ToList();
        foreach (var (profile, placement) in all)
        {
            Assert.Contains(placement, profile.Placements);
        }

        for (int i = 0; i < all.Count; i++)
        {
            for (int j = i + 1; j < all.Count; j++)
            {
                Assert.False(all[i].Placement.Overlaps(all[j].Placement), $"{all[i].Item1.Name}@{all[i].Placement} overlaps {all[j].Item1.Name}@{all[j].Placement}");
            }
        }

        Assert.True(all.Sum(a => a.Item1.SliceCount) <= table.ComputeSlices);
    }

    [Fact]
    public void Seven_small_instances_fill_the_seven_one_slice_placements_of_an_H100()
    {
        MigPlan plan = MigPlanner.Plan(H100, [], Enumerable.Repeat("1g.10gb", 7).ToList());

        AssertValid(H100, plan);
        Assert.Equal([0u, 1, 2, 3, 4, 5, 6], plan.Create.Select(c => c.Placement.Start));
    }

    [Fact]
    public void A_mixed_layout_gets_explicit_placements_that_fit_the_slot_rules()
    {
        MigPlan plan = MigPlanner.Plan(H100, [], ["1g.10gb", "3g.40gb", "2g.20gb", "1g.10gb"]);

        AssertValid(H100, plan);
        Assert.Equal(["1g.10gb@0:1", "1g.10gb@1:1", "2g.20gb@2:2", "3g.40gb@4:4"], plan.Create.Select(c => c.ToString()));
    }

    [Fact]
    public void One_small_instance_is_placed_to_leave_the_longest_free_run()
    {
        MigPlan plan = MigPlanner.Plan(H100, [], ["1g.10gb"]);

        Assert.Equal(new MigPlacement(0, 1), plan.Create.Single().Placement);
        Assert.Equal(7u, plan.LargestFreeRun);
    }

    [Fact]
    public void Changing_a_layout_keeps_the_instances_that_can_stay()
    {
        MigInstance threeG = Existing(1, "3g.40gb", 4);
        MigInstance oneG = Existing(2, "1g.10gb", 0);

        MigPlan plan = MigPlanner.Plan(H100, [threeG, oneG], ["3g.40gb", "2g.20gb", "2g.20gb"]);

        AssertValid(H100, plan);
        Assert.Equal([threeG], plan.Keep);
        Assert.Equal([oneG], plan.Destroy);
        Assert.Equal(["2g.20gb@0:2", "2g.20gb@2:2"], plan.Create.Select(c => c.ToString()));
    }

    [Fact]
    public void An_instance_in_the_way_is_moved_rather_than_refusing()
    {
        MigInstance twoG = Existing(1, "2g.20gb", 2);

        MigPlan plan = MigPlanner.Plan(H100, [twoG], ["4g.40gb", "2g.20gb"]);

        AssertValid(H100, plan);
        Assert.Equal([twoG], plan.Destroy);
        Assert.Equal(["4g.40gb@0:4", "2g.20gb@4:2"], plan.Create.Select(c => c.ToString()));
    }

    [Fact]
    public void Adding_for_a_lease_without_moving_anything_is_refused_naming_the_profile_and_its_blocked_slot()
    {
        MigInstance twoG = Existing(1, "2g.20gb", 2);

        MigPlan plan = MigPlanner.Plan(H100, [twoG], ["4g.40gb"], keepAll: true);

        Assert.True(plan.IsRefused);
        Assert.Equal("cannot place 4g.40gb: slot 0:4 is blocked by an instance that stays", plan.Refusal);
    }

    [Fact]
    public void Two_four_slice_instances_are_refused_with_the_profile_limit()
    {
        MigPlan plan = MigPlanner.Plan(H100, [], ["4g.40gb", "4g.40gb"]);

        Assert.Equal("2 x 4g.40gb wanted, but this GPU allows at most 1 (placements 0:4)", plan.Refusal);
    }

    [Fact]
    public void More_memory_slices_than_the_GPU_has_are_refused()
    {
        MigPlan plan = MigPlanner.Plan(H100, [], ["3g.40gb", "3g.40gb", "1g.10gb"]);

        Assert.Equal("3g.40gb + 3g.40gb + 1g.10gb needs 9 memory slices; this GPU has 8", plan.Refusal);
    }

    [Fact]
    public void A_profile_the_GPU_does_not_offer_is_refused_with_the_ones_it_does()
    {
        MigPlan plan = MigPlanner.Plan(H100, [], ["1g.5gb"]);

        Assert.StartsWith("profile 1g.5gb is not offered by this GPU (it offers 1g.10gb", plan.Refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void The_wanted_layout_already_in_place_is_no_change()
    {
        MigPlan plan = MigPlanner.Plan(H100, [Existing(1, "4g.40gb", 0), Existing(2, "3g.40gb", 4)], ["3g.40gb", "4g.40gb"]);

        Assert.True(plan.IsNoChange);
    }

    [Theory]
    [InlineData("a100-40gb")]
    [InlineData("a100-80gb")]
    [InlineData("h100-80gb")]
    [InlineData("h100-96gb")]
    [InlineData("h100-nvl-94gb")]
    [InlineData("h200-141gb")]
    [InlineData("b200-180gb")]
    [InlineData("gb200-186gb")]
    public void Every_GPU_table_places_a_mixed_layout_and_refuses_an_eighth_compute_slice(string tableName)
    {
        MigProfileTable table = Profiles.Load(tableName);
        string one = Profiles.BySlices(table, 1), two = Profiles.BySlices(table, 2), three = Profiles.BySlices(table, 3);

        MigPlan mixed = MigPlanner.Plan(table, [], [three, two, one, one]);
        MigPlan full = MigPlanner.Plan(table, [], [Profiles.BySlices(table, 7)]);
        MigPlan tooMuch = MigPlanner.Plan(table, [], [three, three, two]);

        AssertValid(table, mixed);
        AssertValid(table, full);
        Assert.Contains("needs 8 compute slices; this GPU has 7", tooMuch.Refusal, StringComparison.Ordinal);
    }
}
