using Xunit.Abstractions;

namespace AiFactory.Profile.Tests.Lab;

/// <summary>
/// The profile on a real kernel: one guest boot (about 10 s of boot plus the scenario under TCG) runs the
/// published agent; each test asserts what the kernel's own sysfs said inside the guest.
/// </summary>
[Trait("Tier", "kernel")]
public sealed class KernelTierTests(LabGuestFixture guest, ITestOutputHelper output) : IClassFixture<LabGuestFixture>
{
    private void AssertChecks(params string[] names) => guest.AssertChecks(output, names);

    [Fact]
    public void Planning_in_the_guest_writes_nothing() => AssertChecks("plan-exit", "plan-wrote-nothing");

    [Fact]
    public void Applying_binds_the_nvme_to_vfio_pci_with_a_viable_group_that_attaches() =>
        AssertChecks("apply-exit", "bound-plain-nvme", "dev-vfio-present", "group-viable-and-attaches", "override-persisted");

    [Fact]
    public void Applying_creates_the_nvme_vfs_on_vfio_pci() => AssertChecks("vfs-created", "vfs-on-vfio", "vf-dev-vfio");

    [Fact]
    public void Applying_reserves_hugepages_per_node() => AssertChecks("hugepages-per-node");

    [Fact]
    public void Reapplying_on_the_real_kernel_writes_nothing() => AssertChecks("reapply-zero-writes");

    [Fact]
    public void A_group_shared_with_a_bridge_is_refused_and_left_alone() =>
        AssertChecks("bridge-group-refused", "bridge-group-message", "bridge-group-untouched", "ctl-invalid-exit-2");

    [Fact]
    public void A_step_the_kernel_cannot_satisfy_rolls_back_the_whole_apply() =>
        AssertChecks("failed-apply-exit", "failed-apply-names-file", "rollback-unbound-81", "rollback-numvfs", "rollback-vfs-rebound", "rollback-hugepages", "rollback-kept-03", "rollback-no-journal");

    [Fact]
    public void A_kill_9_mid_apply_is_rolled_back_by_the_next_daemon_start_before_ready() =>
        AssertChecks("killed-by-sigkill", "journal-left", "half-applied", "recovered-81", "recovered-numvfs", "recovered-no-journal", "recovery-before-ready");

    [Fact]
    public void Drift_made_by_hand_is_found_and_repaired_over_grpc() =>
        AssertChecks("ctl-plan-holds", "drift-found", "drift-names-device", "drift-logged", "ctl-apply-restores");

    [Fact]
    public void The_daemon_reapplies_the_stored_profile_before_ready() =>
        AssertChecks("reset-by-hand", "start-reapplied", "start-apply-before-ready");

    [Fact]
    public void A_real_kernel_uevent_makes_the_daemon_rediscover_before_the_periodic_rescan() =>
        AssertChecks("uevent-listening", "uevent-rescan", "uevent-generation-moved");

    [Fact]
    public void Step_timings_are_reported()
    {
        var steps = guest.Log.Split('\n').Where(l => l.StartsWith("step ", StringComparison.Ordinal)).ToList();
        foreach (string s in steps)
        {
            output.WriteLine(s.TrimEnd());
        }

        Assert.Contains(steps, s => s.Contains("[bind]", StringComparison.Ordinal) && s.Contains(": ok ", StringComparison.Ordinal));
        Assert.Contains(steps, s => s.Contains("[vfs]", StringComparison.Ordinal) && s.Contains(": ok ", StringComparison.Ordinal));
        Assert.Contains(steps, s => s.Contains("[hugepages]", StringComparison.Ordinal) && s.Contains(": ok ", StringComparison.Ordinal));
    }
}
