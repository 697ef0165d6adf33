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
        Task? listening = null;
        bool liveSysfs = Path.GetFullPath(options.SysfsRoot).TrimEnd('/') == "/sys";
        string? error = "sysfs root is a fixture tree";
        if (liveSysfs && UeventListener.TryOpen(out error) is { } listener)
        {
            listening = ListenAsync(listener, wake, stoppingToken);
        }
        else
        {
            LogNoUevents(logger, error ?? "unknown error", Interval.TotalSeconds);
        }

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

        if (listening is not null)
        {
            await listening.ConfigureAwait(false);
        }
    }

    private async Task ListenAsync(UeventListener listener, SemaphoreSlim wake, CancellationToken stoppingToken)
    {
        using (listener)
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    string head = await listener.ReceiveAsync(stoppingToken).ConfigureAwait(false);
                    if (head.Contains("/pci", StringComparison.Ordinal) || head.Contains("/node", StringComparison.Ordinal) ||
                        head.Contains("/cpu", StringComparison.Ordinal) || head.Contains("/net/", StringComparison.Ordinal))
                    {
                        wake.Release();
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (System.Net.Sockets.SocketException ex)
                {
                    LogNoUevents(logger, ex.Message, Interval.TotalSeconds);
                    return;
                }
            }
        }
    }

    [LoggerMessage(EventId = EventIds.InventoryNoUevents, Level = LogLevel.Information, Message = "No kernel uevents ({Reason}): rescanning every {Seconds} s")]
    private static partial void LogNoUevents(ILogger logger, string reason, double seconds);
}
