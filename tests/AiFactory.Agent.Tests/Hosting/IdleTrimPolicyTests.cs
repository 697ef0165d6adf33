using AiFactory.Agent.Hosting;

namespace AiFactory.Agent.Tests.Hosting;

public sealed class IdleTrimPolicyTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void Trims_once_the_first_quiet_period_follows_work_that_allocated()
    {
        var policy = new IdleTrimPolicy(allocatedAtStart: 10 * MiB);

        Assert.False(policy.Sample(13 * MiB));            // busy: 3 MiB in this period
        Assert.True(policy.Sample(13 * MiB + 1000));      // quiet after 3 MiB of work
    }

    [Fact]
    public void The_resident_set_is_read_from_statm_in_bytes()
    {
        // statm's second field, in pages: the size field (first) would be the virtual size, gigabytes for .NET.
        long resident = IdleMemoryTrimmer.ResidentBytes();
        long workingSet = Environment.WorkingSet;

        Assert.True(resident > 4 * MiB, $"resident {resident} B");
        Assert.True(Math.Abs(resident - workingSet) < 256 * MiB, $"resident {resident} B, working set {workingSet} B");
    }

    [Fact]
    public void Never_interrupts_a_busy_daemon()
    {
        var policy = new IdleTrimPolicy(0);
        for (long total = MiB; total <= 50 * MiB; total += MiB)
        {
            Assert.False(policy.Sample(total));
        }
    }

    [Fact]
    public void An_idle_daemon_trims_once_not_every_period()
    {
        var policy = new IdleTrimPolicy(0);
        Assert.False(policy.Sample(2 * MiB));
        Assert.True(policy.Sample(2 * MiB));
        policy.Trimmed(2 * MiB + 500);

        for (int period = 0; period < 100; period++)
        {
            Assert.False(policy.Sample(2 * MiB + 500 + (period * 100)));  // timers and health checks only
        }
    }

    [Fact]
    public void Work_below_the_worth_threshold_is_left_to_the_GC()
    {
        var policy = new IdleTrimPolicy(0);
        Assert.False(policy.Sample(IdleTrimPolicy.WorthBytes - 1));
        Assert.False(policy.Sample(IdleTrimPolicy.WorthBytes - 1));

        // Small periods add up: once the total since the last trim is worth it, the next quiet period trims.
        Assert.False(policy.Sample(IdleTrimPolicy.WorthBytes + IdleTrimPolicy.QuietBytes + 1));
        Assert.True(policy.Sample(IdleTrimPolicy.WorthBytes + IdleTrimPolicy.QuietBytes + 1));
    }

    [Fact]
    public void A_period_with_up_to_the_quiet_allowance_counts_as_quiet()
    {
        var policy = new IdleTrimPolicy(0);
        Assert.False(policy.Sample(4 * MiB));
        Assert.False(policy.Sample((4 * MiB) + IdleTrimPolicy.QuietBytes + 1));
        Assert.True(policy.Sample((4 * MiB) + (2 * IdleTrimPolicy.QuietBytes) + 1));
    }
}
