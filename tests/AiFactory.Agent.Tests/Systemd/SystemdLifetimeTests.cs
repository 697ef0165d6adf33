using AiFactory.Agent.Hosting.Systemd;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Agent.Tests.Systemd;

public sealed class SystemdLifetimeTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("30000000", null, 15_000_000)]
    [InlineData("30000000", "4242", 15_000_000)]
    [InlineData("3000", null, 1_500)]
    [InlineData("1", null, 1_000)]
    public void The_watchdog_pings_at_half_of_watchdog_usec(string usec, string? pid, long expectedMicroseconds)
    {
        TimeSpan? interval = SystemdLifetime.WatchdogInterval(usec, pid, 4242);

        Assert.Equal(TimeSpan.FromMicroseconds(expectedMicroseconds), interval);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData("0", null)]
    [InlineData("soon", null)]
    [InlineData("-5", null)]
    [InlineData("30000000", "1")]
    [InlineData("30000000", "not-a-pid")]
    public void The_watchdog_stays_off_when_unset_invalid_or_meant_for_another_process(string? usec, string? pid)
    {
        Assert.Null(SystemdLifetime.WatchdogInterval(usec, pid, 4242));
    }

    [Fact]
    public void An_enormous_watchdog_usec_is_capped_at_what_a_timer_accepts()
    {
        TimeSpan? interval = SystemdLifetime.WatchdogInterval(ulong.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), null, 1);

        Assert.Equal(TimeSpan.FromMilliseconds(4_294_967_294), interval);
        using var timer = new Timer(_ => { }, null, interval!.Value, interval.Value);
    }

    [Fact]
    public async Task Ready_comes_after_start_with_status_then_watchdog_pings_then_stopping()
    {
        using var systemd = NotifySocket.AtPath(_dir.Path);
        var lifetime = new FakeLifetime();
        bool ranBeforeReady = false;
        using var subject = new SystemdLifetime(new SystemdNotifier(systemd.Address), lifetime, NullLogger<SystemdLifetime>.Instance,
            () => { ranBeforeReady = true; return "serving"; }, watchdogUsec: "40000", watchdogPid: null, pid: 1);

        await subject.StartAsync(CancellationToken.None);
        Assert.Null(systemd.Receive(TimeSpan.FromMilliseconds(50)));
        Assert.False(ranBeforeReady);

        lifetime.Started.Cancel();
        Assert.True(ranBeforeReady);
        Assert.Equal("READY=1\nSTATUS=serving", systemd.Receive(Wait));
        Assert.Equal("WATCHDOG=1", systemd.Receive(Wait));
        Assert.Equal("WATCHDOG=1", systemd.Receive(Wait));

        lifetime.Stopping.Cancel();
        string? message;
        do
        {
            message = systemd.Receive(Wait);
        }
        while (message == "WATCHDOG=1");

        Assert.Equal("STOPPING=1\nSTATUS=stopping", message);
    }

    [Fact]
    public async Task A_full_notify_queue_neither_holds_up_start_nor_stop_and_is_logged_once()
    {
        using var systemd = NotifySocket.AtPath(_dir.Path);
        systemd.FillQueue();
        var lifetime = new FakeLifetime();
        var logger = new RecordingLogger<SystemdLifetime>();
        using var subject = new SystemdLifetime(new SystemdNotifier(systemd.Address), lifetime, logger, () => "serving", watchdogUsec: "2000", watchdogPid: null, pid: 1);
        await subject.StartAsync(CancellationToken.None);

        // ApplicationStarted's callbacks run inline: a blocking send would never return from Cancel.
        await Task.Run(lifetime.Started.Cancel).WaitAsync(TimeSpan.FromMinutes(1));
        await WaitUntil(() => logger.Entries.Any(e => e.Message.StartsWith("Ready: serving", StringComparison.Ordinal)));
        // Watchdog ticks every millisecond, each lost as well.
        await Task.Delay(TimeSpan.FromMilliseconds(50));
        await Task.Run(lifetime.Stopping.Cancel).WaitAsync(TimeSpan.FromMinutes(1));

        var lost = logger.Entries.Where(e => e.Message.StartsWith("A systemd notification was lost", StringComparison.Ordinal)).ToList();
        Assert.Single(lost);
        Assert.Contains("READY=1 STATUS=serving", lost[0].Message, StringComparison.Ordinal);
        Assert.Contains("queue is full", lost[0].Message, StringComparison.Ordinal);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 600 && !condition(); i++)
        {
            await Task.Delay(100);
        }

        Assert.True(condition());
    }

    private sealed class FakeLifetime : IHostApplicationLifetime
    {
        public CancellationTokenSource Started { get; } = new();

        public CancellationTokenSource Stopping { get; } = new();

        public CancellationToken ApplicationStarted => Started.Token;

        public CancellationToken ApplicationStopping => Stopping.Token;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => Stopping.Cancel();
    }
}
