using AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Events;

/// <summary>
/// The node's event stream inside the daemon: features publish, <c>WatchEvents</c> callers and the log subscribe.
/// Each subscriber has a bounded queue; a subscriber that does not keep up loses its oldest events (and is told
/// by a gap in <see cref="Event.Sequence"/>) rather than slowing the publisher.
/// </summary>
internal sealed class EventBus
{
    private const int RecentCapacity = 256;
    private readonly Lock _gate = new();
    private readonly Queue<Event> _recent = new();
    private readonly List<System.Threading.Channels.Channel<Event>> _subscribers = [];
    private ulong _sequence;
    private bool _completed;

    /// <summary>Publishes one event; fills in sequence and time.</summary>
    public Event Publish(string kind, EventSeverity severity, string subject, string message, IReadOnlyDictionary<string, string>? attributes = null)
    {
        var e = new Event
        {
            Kind = kind,
            Severity = severity,
            Subject = subject,
            Message = message,
            TimeUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        if (attributes is not null)
        {
            foreach ((string key, string value) in attributes)
            {
                e.Attributes[key] = value;
            }
        }

        lock (_gate)
        {
            e.Sequence = ++_sequence;
            _recent.Enqueue(e);
            if (_recent.Count > RecentCapacity)
            {
                _recent.Dequeue();
            }

            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryWrite(e);
            }
        }

        return e;
    }

    /// <summary>Subscribes; optionally starting with the recent events. Dispose the subscription to leave.</summary>
    public Subscription Subscribe(bool replayRecent, int capacity = 1024)
    {
        var channel = System.Threading.Channels.Channel.CreateBounded<Event>(new System.Threading.Channels.BoundedChannelOptions(capacity)
        {
            FullMode = System.Threading.Channels.BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_gate)
        {
            if (replayRecent)
            {
                foreach (Event e in _recent)
                {
                    channel.Writer.TryWrite(e);
                }
            }

            if (_completed)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _subscribers.Add(channel);
            }
        }

        return new Subscription(this, channel);
    }

    /// <summary>
    /// Shutdown: every subscriber's stream ends once it has read what is queued, so that open WatchEvents calls
    /// finish instead of holding the process for the whole shutdown timeout. Later publishes are kept as recent only.
    /// </summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            foreach (var subscriber in _subscribers)
            {
                subscriber.Writer.TryComplete();
            }
        }
    }

    /// <summary>The events still held in the recent buffer, oldest first.</summary>
    public IReadOnlyList<Event> Recent()
    {
        lock (_gate)
        {
            return [.. _recent];
        }
    }

    private void Unsubscribe(System.Threading.Channels.Channel<Event> channel)
    {
        lock (_gate)
        {
            _subscribers.Remove(channel);
        }

        channel.Writer.TryComplete();
    }

    /// <summary>One subscriber's queue.</summary>
    internal sealed class Subscription(EventBus bus, System.Threading.Channels.Channel<Event> channel) : IDisposable
    {
        public System.Threading.Channels.ChannelReader<Event> Reader => channel.Reader;

        public void Dispose() => bus.Unsubscribe(channel);
    }
}
