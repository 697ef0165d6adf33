using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Planning.Profile;

namespace AiFactory.Profile.Tests.Planning;

/// <summary>
/// Changing the host-reserved CPUs (<c>cpus</c>) once a profile has set them: a lease whose emulator threads share the
/// reserved CPUs keeps them where they are (a move, a resize or a removal is refused naming it), and a profile that
/// drops the section resets exactly the units the profile applied last confined.
/// </summary>
public sealed class ProfilePlannerReservedCpusTests
{
    private const string SharingLease = "lease-aaaaaaaaaaaa";
    private static readonly CpuSet ZeroToThree = CpuSet.Parse("0-3");

    /// <summary>The units the profile applied last confined, to 0-3, and a lease whose emulator threads share 0-3.</summary>
    private static readonly ProfileCurrentState ReservedZeroToThreeWithASharingLease = ReservedZeroToThree(new LeaseHolds
    {
        SharingReserved = new Dictionary<string, CpuSet> { [SharingLease] = ZeroToThree },
    });

    private static NodeProfile Reserved(string cpus) => new() { Cpus = new CpuProfile(CpuSet.Parse(cpus), CpuProfile.DefaultUnits) };

    private static ProfileCurrentState ReservedZeroToThree(LeaseHolds leases) => new()
    {
        AllowedCpus = CpuProfile.DefaultUnits.ToDictionary(u => u, _ => ZeroToThree),
        AppliedCpus = new CpuProfile(ZeroToThree, CpuProfile.DefaultUnits),
        Leases = leases,
    };

    [Theory]
    [InlineData("8-11")]
    [InlineData("0-1")]
    [InlineData("0-5")]
    public void Moving_or_resizing_the_reserved_cpus_under_a_lease_whose_emulator_threads_share_them_is_refused_naming_the_lease(string reserved)
    {
        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ReservedZeroToThreeWithASharingLease, Reserved(reserved));

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("cpus.reserved", error.Field);
        Assert.Contains($"the host-reserved CPUs would become {reserved}, but lease(s) {SharingLease} (on 0-3) pin their emulator threads", error.Reason);
        Assert.Contains("release the lease(s) first", error.Reason);
        Assert.Empty(plan.Steps);
    }

    [Fact]
    public void Removing_the_cpus_section_under_a_lease_whose_emulator_threads_share_them_is_refused_naming_the_lease()
    {
        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ReservedZeroToThreeWithASharingLease, new NodeProfile());

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("cpus", error.Field);
        Assert.Contains($"the host would keep no reserved CPUs, but lease(s) {SharingLease} (on 0-3) pin their emulator threads", error.Reason);
        Assert.Contains("release the lease(s) first", error.Reason);
    }

    [Fact]
    public void The_same_reserved_cpus_under_a_lease_that_shares_them_plan_nothing_and_a_unit_put_back_is_allowed()
    {
        ProfileCurrentState drifted = ReservedZeroToThreeWithASharingLease with
        {
            AllowedCpus = new Dictionary<string, CpuSet> { ["system.slice"] = ZeroToThree, ["user.slice"] = CpuSet.Empty, ["init.scope"] = ZeroToThree },
        };

        ProfilePlan same = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ReservedZeroToThreeWithASharingLease, Reserved("0-3"));
        ProfilePlan putBack = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, drifted, Reserved("0-3"));

        Assert.True(same.IsNoOp);
        Assert.Empty(putBack.Errors);
        Assert.Equal(new SetAllowedCpusStep("user.slice", "", "0-3") { Field = "cpus.reserved" }, Assert.Single(putBack.Steps));
    }

    [Fact]
    public void Moving_or_removing_the_reserved_cpus_is_refused_while_what_leases_hold_is_unknown()
    {
        ProfileCurrentState unknown = ReservedZeroToThree(new LeaseHolds { Unavailable = "the lease ledger is open in a running aifactory-agent" });

        ProfilePlan moved = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, unknown, Reserved("8-11"));
        ProfilePlan removed = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, unknown, new NodeProfile());

        Assert.Equal(("cpus.reserved", "the host-reserved CPUs would become 8-11, but what leases hold is unknown (the lease ledger is open in a running aifactory-agent)"), (Assert.Single(moved.Errors).Field, moved.Errors[0].Reason));
        Assert.Equal(("cpus", "the host would keep no reserved CPUs, but what leases hold is unknown (the lease ledger is open in a running aifactory-agent)"), (Assert.Single(removed.Errors).Field, removed.Errors[0].Reason));
    }

    [Fact]
    public void Without_a_lease_that_shares_them_the_reserved_cpus_move_and_the_section_can_be_removed()
    {
        // A lease with an isolated emulator core pins only CPUs of its own, away from both sets.
        ProfileCurrentState isolated = ReservedZeroToThree(new LeaseHolds { Cpus = new Dictionary<int, string> { [20] = "lease-bbbbbbbbbbbb", [21] = "lease-bbbbbbbbbbbb" } });

        ProfilePlan moved = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, isolated, Reserved("8-11"));
        ProfilePlan removed = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, isolated, new NodeProfile());

        Assert.Empty(moved.Errors);
        Assert.Equal(["8-11", "8-11", "8-11"], moved.Steps.OfType<SetAllowedCpusStep>().Select(s => s.To));
        Assert.Empty(removed.Errors);
        Assert.Equal(3, removed.Steps.Count);
    }

    [Fact]
    public void Removing_the_cpus_section_resets_exactly_the_units_the_profile_applied_last_confined()
    {
        // machine.slice is confined by the operator's own drop-in, which the agent never set.
        var state = new ProfileCurrentState
        {
            AllowedCpus = new Dictionary<string, CpuSet> { ["system.slice"] = ZeroToThree, ["user.slice"] = ZeroToThree, ["machine.slice"] = CpuSet.Parse("0-1") },
            AppliedCpus = new CpuProfile(ZeroToThree, ["system.slice", "user.slice"]),
        };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, new NodeProfile());

        Assert.Empty(plan.Errors);
        Assert.Equal(
            [new SetAllowedCpusStep("system.slice", "0-3", "") { Field = "cpus" }, new SetAllowedCpusStep("user.slice", "0-3", "") { Field = "cpus" }],
            plan.Steps);
    }

    [Fact]
    public void A_unit_left_out_of_cpus_units_is_reset_and_the_others_keep_the_reserved_cpus()
    {
        var profile = new NodeProfile { Cpus = new CpuProfile(ZeroToThree, ["system.slice", "user.slice"]) };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ReservedZeroToThree(LeaseHolds.None), profile);

        Assert.Equal(new SetAllowedCpusStep("init.scope", "0-3", "") { Field = "cpus.units" }, Assert.Single(plan.Steps));
    }

    [Fact]
    public void Removing_the_cpus_section_when_none_was_applied_resets_nothing_the_operator_set()
    {
        var state = new ProfileCurrentState { AllowedCpus = CpuProfile.DefaultUnits.ToDictionary(u => u, _ => ZeroToThree) };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, new NodeProfile());

        Assert.True(plan.IsNoOp);
    }

    [Fact]
    public void A_unit_changed_by_hand_since_the_last_apply_is_left_as_it_is_with_a_warning()
    {
        ProfileCurrentState state = ReservedZeroToThree(LeaseHolds.None) with
        {
            AllowedCpus = new Dictionary<string, CpuSet> { ["system.slice"] = ZeroToThree, ["user.slice"] = CpuSet.Parse("0-7"), ["init.scope"] = CpuSet.Empty },
        };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, new NodeProfile());

        Assert.Equal(new SetAllowedCpusStep("system.slice", "0-3", "") { Field = "cpus" }, Assert.Single(plan.Steps));
        Assert.Equal("cpus: user.slice has AllowedCPUs=0-7, not the 0-3 the profile applied last gave it: left as it is", Assert.Single(plan.Warnings));
    }

    [Fact]
    public void Removing_the_cpus_section_is_refused_while_the_profile_applied_last_cannot_be_read()
    {
        var state = new ProfileCurrentState { AppliedCpusUnknown = "/var/lib/aifactory/profile/node-profile.yaml does not parse: version: \"v9\" is not supported" };

        ProfilePlan removed = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, new NodeProfile());
        ProfilePlan kept = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, Reserved("0-3"));

        ProfileValidationError error = Assert.Single(removed.Errors);
        Assert.Equal("cpus", error.Field);
        Assert.Contains("which units' AllowedCPUs= this agent set is unknown", error.Reason);
        Assert.Contains("systemctl set-property --runtime UNIT AllowedCPUs=", error.Reason);
        Assert.Empty(kept.Errors);
    }
}
