using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Contracts.Agent.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// A <see cref="GpuHealthWatcher"/> watching a <see cref="FakeServer"/> on its own thread, as the daemon runs it, with
/// a subscription to the events it publishes; started once every GPU's events are registered.
/// </summary>
internal sealed class WatcherRun : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly EventBus.Subscription _subscription;
    private readonly Task _loop;

    private WatcherRun(FakeServer server, TaskCompletionSource registered)
    {
        var bus = new EventBus();
        var watcher = new GpuHealthWatcher(server.Nvml, server.Health, bus, NullLogger<GpuHealthWatcher>.Instance);
        _subscription = bus.Subscribe(replayRecent: false);
        _loop = Task.Factory.StartNew(() => watcher.Watch(server.Nvml.Require(), _cts.Token, registered.SetResult), TaskCreationOptions.LongRunning);
    }

    public static async Task<WatcherRun> StartAsync(FakeServer server)
    {
        var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = new WatcherRun(server, registered);
        await registered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return run;
    }

    /// <summary>The next event the watcher publishes (30 s at most).</summary>
    public async Task<Event> NextAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await _subscription.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>Stops the watcher and waits for its loop to end.</summary>
    public async Task StopAsync()
    {
        await _cts.CancelAsync();
        await _loop.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public void Dispose()
    {
        _cts.Cancel();
        _subscription.Dispose();
        _cts.Dispose();
    }
}
