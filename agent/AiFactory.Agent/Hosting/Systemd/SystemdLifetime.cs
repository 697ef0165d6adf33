using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Hosting.Systemd;

/// <summary>
/// Tells systemd READY=1 once the host has started (Kestrel's listeners accept), STOPPING=1 when it stops, and
/// pings WATCHDOG=1 at half of <c>$WATCHDOG_USEC</c> (only when <c>$WATCHDOG_PID</c> is unset or ours).
/// </summary>
internal sealed partial class SystemdLifetime : IHostedService, IDisposable
{
    private readonly ISystemdNotifier _notifier;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<SystemdLifetime> _logger;
    private readonly TimeSpan? _watchdogInterval;
    private readonly Func<string> _status;
    private Timer? _watchdog;

    public SystemdLifetime(ISystemdNotifier notifier, IHostApplicationLifetime lifetime, ILogger<SystemdLifetime> logger, Func<string> status)
        : this(notifier, lifetime, logger, status, Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId)
    {
    }

    internal SystemdLifetime(ISystemdNotifier notifier, IHostApplicationLifetime lifetime, ILogger<SystemdLifetime> logger, Func<string> status, string? watchdogUsec, string? watchdogPid, int pid)
    {
        _notifier = notifier;
        _lifetime = lifetime;
        _logger = logger;
        _status = status;
        _watchdogInterval = WatchdogInterval(watchdogUsec, watchdogPid, pid);
    }

    /// <summary>Half of WATCHDOG_USEC, or null when the watchdog is off or meant for another process.</summary>
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

        return TimeSpan.FromTicks((long)Math.Min(usec / 2 * 10, (ulong)TimeSpan.MaxValue.Ticks));
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _lifetime.ApplicationStarted.Register(() =>
        {
            string status = _status();
            _notifier.Notify(ServiceState.Ready.And(ServiceState.Status(status)));
            LogReady(_logger, status);
            if (_watchdogInterval is TimeSpan interval)
            {
                _watchdog = new Timer(_ => _notifier.Notify(ServiceState.Watchdog), null, TimeSpan.Zero, interval);
            }
        });
        _lifetime.ApplicationStopping.Register(() =>
        {
            _notifier.Notify(ServiceState.Stopping.And(ServiceState.Status("stopping")));
            _watchdog?.Dispose();
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _watchdog?.Dispose();

    [LoggerMessage(EventId = EventIds.Ready, Level = LogLevel.Information, Message = "Ready: {Status}")]
    private static partial void LogReady(ILogger logger, string status);
}
