using AiFactory.Agent.Events;
using AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Tests.Events;

public sealed class EventBusTests
{
    [Fact]
    public void Subscribers_see_events_in_publish_order_with_rising_sequence_numbers()
    {
        var bus = new EventBus();
        using EventBus.Subscription subscription = bus.Subscribe(replayRecent: false);

        bus.Publish("lease.granted", EventSeverity.Info, "gpu0", "one");
        bus.Publish("lease.released", EventSeverity.Info, "gpu0", "two", new Dictionary<string, string> { ["by"] = "test" });

        Event first = Read(subscription);
        Event second = Read(subscription);
        Assert.Equal(("one", 1UL), (first.Message, first.Sequence));
        Assert.Equal(("two", 2UL), (second.Message, second.Sequence));
        Assert.Equal("test", second.Attributes["by"]);
    }

    [Fact]
    public void Replay_starts_with_the_recent_events_and_a_plain_subscription_does_not()
    {
        var bus = new EventBus();
        bus.Publish("a", EventSeverity.Info, "s", "before");
        using EventBus.Subscription replay = bus.Subscribe(replayRecent: true);
        using EventBus.Subscription live = bus.Subscribe(replayRecent: false);

        bus.Publish("a", EventSeverity.Info, "s", "after");

        Assert.Equal("before", Read(replay).Message);
        Assert.Equal("after", Read(replay).Message);
        Assert.Equal("after", Read(live).Message);
    }

    [Fact]
    public void The_recent_buffer_keeps_the_newest_256()
    {
        var bus = new EventBus();
        for (int i = 1; i <= 300; i++)
        {
            bus.Publish("a", EventSeverity.Info, "s", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        IReadOnlyList<Event> recent = bus.Recent();

        Assert.Equal(256, recent.Count);
        Assert.Equal(45UL, recent[0].Sequence);
        Assert.Equal(300UL, recent[^1].Sequence);
    }

    [Fact]
    public void A_slow_subscriber_loses_its_oldest_events_and_does_not_block_the_publisher()
    {
        var bus = new EventBus();
        using EventBus.Subscription slow = bus.Subscribe(replayRecent: false, capacity: 4);
        using EventBus.Subscription fast = bus.Subscribe(replayRecent: false, capacity: 100);

        for (int i = 1; i <= 10; i++)
        {
            bus.Publish("a", EventSeverity.Info, "s", "e");
        }

        Assert.Equal([7UL, 8UL, 9UL, 10UL], Drain(slow).Select(e => e.Sequence));
        Assert.Equal(10, Drain(fast).Count);
    }

    [Fact]
    public async Task Complete_ends_every_stream_after_what_was_queued()
    {
        var bus = new EventBus();
        using EventBus.Subscription subscription = bus.Subscribe(replayRecent: false);
        bus.Publish("a", EventSeverity.Info, "s", "last");

        bus.Complete();

        var seen = new List<string>();
        await foreach (Event e in subscription.Reader.ReadAllAsync().WithCancellation(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token))
        {
            seen.Add(e.Message);
        }

        Assert.Equal(["last"], seen);
        using EventBus.Subscription late = bus.Subscribe(replayRecent: true);
        Assert.Equal("last", Read(late).Message);
        await late.Reader.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_disposed_subscription_receives_nothing_more()
    {
        var bus = new EventBus();
        EventBus.Subscription subscription = bus.Subscribe(replayRecent: false);

        subscription.Dispose();
        bus.Publish("a", EventSeverity.Info, "s", "x");

        Assert.False(subscription.Reader.TryRead(out _));
        Assert.True(subscription.Reader.Completion.IsCompleted);
    }

    private static Event Read(EventBus.Subscription subscription) =>
        subscription.Reader.TryRead(out Event? e) ? e : throw new Xunit.Sdk.XunitException("no event queued");

    private static List<Event> Drain(EventBus.Subscription subscription)
    {
        var all = new List<Event>();
        while (subscription.Reader.TryRead(out Event? e))
        {
            all.Add(e);
        }

        return all;
    }
}
