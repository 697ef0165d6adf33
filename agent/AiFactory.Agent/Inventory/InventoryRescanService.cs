using AiFactory.Agent.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Inventory;

/// <summary>
/// Keeps the inventory current without a restart: rescans shortly after kernel uevents (when netlink is available,
/// i.e. on the real /sys) and every <see cref="Interval"/> as a fallback.
/// </summary>
internal sealed partial class InventoryRescanService(InventoryService inventory, AgentOptions options, ILogger<InventoryRescanService> logger) : BackgroundService
{
    /// <summary>The periodic rescan.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    /// <summary>uevents come in bursts (a driver bind is several): wait this long and rescan once.</summary>
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(300);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var wake = new SemaphoreSlim(0);
        UeventListener? listener = null;
        bool liveSysfs = Path.GetFullPath(options.SysfsRoot).TrimEnd('/') == "/sys";
        string? error = "sysfs root is a fixture tree";
        if (liveSysfs)
        {
            listener = UeventListener.TryStart(
                onRelevant: () =>
                {
                    if (wake.CurrentCount == 0)
                    {
                        wake.Release(); // one pending wake is enough: the rescan reads everything
                    }
                },
                onFailed: reason => LogNoUevents(logger, reason, Interval.TotalSeconds),
                out error);
        }

        if (listener is null)
        {
            LogNoUevents(logger, error ?? "unknown error", Interval.TotalSeconds);
        }

        using (listener)
        {
            await RescanLoopAsync(wake, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task RescanLoopAsync(SemaphoreSlim wake, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            string reason = "rescan";
            try
            {
                if (await wake.WaitAsync(Interval, stoppingToken).ConfigureAwait(false))
                {
                    reason = "uevent";
                    await Task.Delay(Debounce, stoppingToken).ConfigureAwait(false);
                    while (wake.CurrentCount > 0)
                    {
                        await wake.WaitAsync(stoppingToken).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }

            inventory.Rescan(reason);
        }
    }

    [LoggerMessage(EventId = EventIds.InventoryNoUevents, Level = LogLevel.Information, Message = "No kernel uevents ({Reason}): rescanning every {Seconds} s")]
    private static partial void LogNoUevents(ILogger logger, string reason, double seconds);
}
