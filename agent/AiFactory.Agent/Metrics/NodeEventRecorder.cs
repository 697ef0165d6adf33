using System.Globalization;
using AiFactory.Agent.Events;
using AiFactory.Contracts.Agent.V1;
using Microsoft.Extensions.Hosting;

namespace AiFactory.Agent.Metrics;

/// <summary>
/// Turns node events into the agent's metrics, so the features that publish them need no metrics code of their own:
/// profile applications by outcome and duration (profile.applied, profile.failed, profile.refused with their
/// <c>duration_seconds</c>), detected drift (profile.drift by its <c>kinds</c>, lease.drift as "lease"), and each GPU's last XID (gpu.xid from the NVML event
/// watcher: dcgm-exporter's DCGM_FI_DEV_XID_ERRORS).
/// </summary>
internal sealed class NodeEventRecorder : BackgroundService
{
    private readonly EventBus _bus;
    private readonly AgentMetrics _metrics;

    public NodeEventRecorder(EventBus bus, AgentMetrics metrics)
    {
        _bus = bus;
        _metrics = metrics;
    }

    /// <summary>Records one event; public for tests.</summary>
    public static void Record(AgentMetrics metrics, Event e)
    {
        switch (e.Kind)
        {
            case "profile.applied":
                ProfileApply(metrics, e, e.Attributes.TryGetValue("steps", out string? steps) && steps == "0" ? "unchanged" : "applied");
                break;
            case "profile.failed":
                ProfileApply(metrics, e, "failed");
                break;
            case "profile.refused":
                ProfileApply(metrics, e, "refused");
                break;
            case "profile.drift":
                // One increment per kind of difference (a step kind, or "invalid"); "profile" when the event names none.
                string[] kinds = e.Attributes.TryGetValue("kinds", out string? list) ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
                foreach (string kind in kinds.Length > 0 ? kinds : ["profile"])
                {
                    metrics.RecordDrift(kind);
                }

                break;
            case "lease.drift":
                metrics.RecordDrift("lease");
                break;
            case "gpu.xid" when e.Attributes.TryGetValue("uuid", out string? uuid) && e.Attributes.TryGetValue("xid", out string? xid) &&
                ulong.TryParse(xid, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value):
                metrics.RecordXid(uuid, value);
                break;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using EventBus.Subscription subscription = _bus.Subscribe(replayRecent: true);
        try
        {
            await foreach (Event e in subscription.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                Record(_metrics, e);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static void ProfileApply(AgentMetrics metrics, Event e, string outcome)
    {
        metrics.RecordProfileOutcome(outcome);
        if (e.Attributes.TryGetValue("duration_seconds", out string? text) &&
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds >= 0)
        {
            metrics.RecordProfileApply(outcome, TimeSpan.FromSeconds(seconds));
        }
    }
}
