using AiFactory.Agent.Events;
using AiFactory.Contracts.Agent.V1;
using Microsoft.Extensions.Hosting;

namespace AiFactory.Agent.Metrics;

/// <summary>
/// Counts profile applications by outcome and detected drift from the node event stream (profile.applied,
/// profile.failed, profile.refused, profile.drift), so the profile feature needs no metrics code of its own.
/// </summary>
internal sealed class ProfileEventRecorder : BackgroundService
{
    private readonly EventBus _bus;
    private readonly AgentMetrics _metrics;

    public ProfileEventRecorder(EventBus bus, AgentMetrics metrics)
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
                metrics.RecordProfileOutcome(e.Attributes.TryGetValue("steps", out string? steps) && steps == "0" ? "unchanged" : "applied");
                break;
            case "profile.failed":
                metrics.RecordProfileOutcome("failed");
                break;
            case "profile.refused":
                metrics.RecordProfileOutcome("refused");
                break;
            case "profile.drift":
                metrics.RecordDrift("profile");
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
}
