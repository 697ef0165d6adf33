using AiFactory.Agent.Events;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc.Services;

namespace AiFactory.Agent.Api;

/// <summary><c>aifactory.agent.v1.Events</c>: the node's event stream.</summary>
internal sealed class EventsApiService(EventBus bus)
{
    public const string ServiceName = "aifactory.agent.v1.Events";

    public ServiceDefinition Definition() =>
        ServiceDefinition.CreateBuilder(ServiceName)
            .AddServerStreaming<WatchEventsRequest, Event>("WatchEvents", WatchEventsRequest.Parser, WatchAsync)
            .Build();

    private async Task WatchAsync(WatchEventsRequest request, IServerStreamWriter<Event> writer, ServerCallContext context)
    {
        using EventBus.Subscription subscription = bus.Subscribe(request.ReplayRecent);
        await foreach (Event e in subscription.Reader.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            if (request.Kinds.Count == 0 || request.Kinds.Any(k => e.Kind.StartsWith(k, StringComparison.Ordinal)))
            {
                await writer.WriteAsync(e, context.CancellationToken).ConfigureAwait(false);
            }
        }
    }
}
