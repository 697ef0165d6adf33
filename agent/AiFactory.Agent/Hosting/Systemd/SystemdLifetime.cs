using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Hosting.Systemd;

/// <summary>
/// Tells systemd READY=1 once the host has started (Kestrel's listeners accept), STOPPING=1 when it stops, and
/// pings WATCHDOG=1 at half of <c>$WATCHDOG_USEC</c> (only when <c>$WATCHDOG_PID</c> is unset or ours).
/// The <c>beforeReady</c> callback runs when the listeners accept, just before READY=1, and returns the STATUS= text.
/// </summary>
internal sealed partial class SystemdLifetime : IHostedService, IDisposable
{
    private readonly ISystemdNotifier _notifier;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<SystemdLifetime> _logger;
    private readonly TimeSpan? _watchdogInterval;
    private readonly Func<string> _status;
    private const ulong MinimumIntervalMicroseconds = 1_000;
    private const ulong MaximumIntervalMicroseconds = 4_294_967_294UL * 1_000;
    private Timer? _watchdog;
    private int _lossLogged;

    public SystemdLifetime(ISystemdNotifier notifier, IHostApplicationLifetime lifetime, ILogger<SystemdLifetime> logger, Func<string> beforeReady)
        : this(notifier, lifetime, logger, beforeReady, Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId)
    {
    }

    internal SystemdLifetime(ISystemdNotifier notifier, IHostApplicationLifetime lifetime, ILogger<SystemdLifetime> logger, Func<string> beforeReady, string? watchdogUsec, string? watchdogPid, int pid)
    {
        _notifier = notifier;
        _lifetime = lifetime;
        _logger = logger;
        _status = beforeReady;
        _watchdogInterval = WatchdogInterval(watchdogUsec, watchdogPid, pid);
    }

    /// <summary>Half of WATCHDOG_USEC (at least 1 ms), or null when the watchdog is off or meant for another process.</summary>
    internal static TimeSpan? WatchdogInterval(string? watchdogUsec, string? watchdogPid, int pid)
    {
        if (!ulong.TryParse(watchdogUsec, NumberStyles.None, CultureInfo.InvariantCulture, out ulong usec) || usec == 0)
        {
            return null;
        }

        if (!string.IsNullOrEmpty(watchdogPid) &&
            (!int.TryParse(watchdogPid, NumberStyles.None, CultureInfo.InvariantCulture, out int target) || target != pid))
        {
            return null;
        }

        // System.Threading.Timer takes periods from 1 ms to 2^32-2 ms; a shorter period would make it fire once.
        ulong half = Math.Clamp(usec / 2, MinimumIntervalMicroseconds, MaximumIntervalMicroseconds);
        return TimeSpan.FromTicks((long)half * TimeSpan.TicksPerMicrosecond);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_notifier.Problem is { } problem)
        {
            LogNotifySocketUnusable(_logger, problem);
        }

        _lifetime.ApplicationStarted.Register(() =>
        {
            string status = _status();
            Notify(ServiceState.Ready.And(ServiceState.Status(status)));
            LogReady(_logger, status);
            if (_watchdogInterval is TimeSpan interval)
            {
                _watchdog = new Timer(_ => Notify(ServiceState.Watchdog), null, TimeSpan.Zero, interval);
            }
        });
        _lifetime.ApplicationStopping.Register(() =>
        {
            Notify(ServiceState.Stopping.And(ServiceState.Status("stopping")));
            _watchdog?.Dispose();
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Sends without waiting; the first lost notification is logged, later ones (a watchdog tick each) are not.</summary>
    private void Notify(ServiceState state)
    {
        if (_notifier.Notify(state) is { } lost && _notifier.Problem is null && Interlocked.Exchange(ref _lossLogged, 1) == 0)
        {
            LogNotificationLost(_logger, state.Text.Replace('\n', ' '), lost);
        }
    }

    public void Dispose() => _watchdog?.Dispose();

    [LoggerMessage(EventId = EventIds.NotifySocketUnusable, Level = LogLevel.Error, Message = "Cannot notify systemd: {Problem}")]
    private static partial void LogNotifySocketUnusable(ILogger logger, string problem);

    [LoggerMessage(EventId = EventIds.NotificationLost, Level = LogLevel.Warning, Message = "A systemd notification was lost ({State}): {Reason}; later losses are not logged")]
    private static partial void LogNotificationLost(ILogger logger, string state, string reason);

    [LoggerMessage(EventId = EventIds.Ready, Level = LogLevel.Information, Message = "Ready: {Status}")]
    private static partial void LogReady(ILogger logger, string status);
}
