using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// Ambiguity (a UUID or bus id NVML reports for two GPUs) on an 8-GPU H100 server, after start: a recovery event does
/// not end it; the daemon's later reads of NVML's GPUs (the GPU list, the MIG capacity leases plan on) mark a
/// duplicate that appears and clear one that is gone, with events, but never clear it from a read that missed a GPU.
/// </summary>
[Collection("fake-nvml")]
public sealed class GpuAmbiguityTests
{
    private const string Uuid0 = "GPU-5e000000-5a1d-4e2f-9c3b-fa4e00000018";
    private const string Uuid3 = "GPU-5e000003-5a1d-4e2f-9c3b-fa4e0000005d";
    private static readonly PciAddress Gpu0 = PciAddress.Parse("0000:18:00.0");
    private static readonly PciAddress Gpu3 = PciAddress.Parse("0000:5d:00.0");

    [Fact]
    public async Task A_recovery_event_does_not_return_an_ambiguous_GPU_to_service()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![3]!["uuid"] = Uuid0);
        GpuHealthWatcher.ReadAtStart(server.Nvml.Require(), server.SysfsRoot, server.Health, new EventBus(), NullLogger.Instance);
        using WatcherRun watcher = await WatcherRun.StartAsync(server);

        server.InjectEvent(3, NvmlEventTypes.GpuRecoveryAction, 0);
        Event recovered = await watcher.NextAsync();
        await watcher.StopAsync();

        Assert.Equal("gpu.recovered", recovered.Kind);
        Assert.Equal("unhealthy", recovered.Attributes["health"]);
        Assert.StartsWith($"GPU {Gpu3} recovered, but stays out of service: NVML reports UUID {Uuid0} for both GPU 0 ({Gpu0}) and GPU 3 ({Gpu3})", recovered.Message, StringComparison.Ordinal);
        Assert.Equal(new HashSet<PciAddress> { Gpu0, Gpu3 }, server.Health.Unhealthy());
        Assert.Equal(GpuHealth.Unhealthy, server.Inventory.Read(false)[3].Health);
        Assert.Equal(GpuHealth.Unhealthy, server.Health.Get(Uuid0).Health);
    }

    [Fact]
    public void A_duplicate_UUID_that_appears_after_start_is_marked_by_the_next_GPU_list_once_with_events()
    {
        using var server = new FakeServer("dgx-h100");
        using Daemon daemon = new(server);
        Assert.Empty(daemon.Registry.Unhealthy());

        File.WriteAllText(server.IdentityPath, $"3 uuid {Uuid0}\n");
        IReadOnlyList<GpuInfo> gpus = daemon.Inventory.Read(includeSerial: false);
        daemon.Inventory.Read(includeSerial: false);

        Assert.Equal(new HashSet<PciAddress> { Gpu0, Gpu3 }, daemon.Registry.Unhealthy());
        Assert.Equal([0u, 3u], gpus.Where(g => g.Health == GpuHealth.Unhealthy).Select(g => g.Index));
        Assert.All(gpus.Where(g => g.Health == GpuHealth.Unhealthy), g => Assert.Equal(
            $"NVML reports UUID {Uuid0} for both GPU 0 ({Gpu0}) and GPU 3 ({Gpu3}); neither is partitioned or leased", g.HealthReason));
        List<Event> published = daemon.Published();
        Assert.Equal([$"gpu.ambiguous {Gpu0}", $"gpu.ambiguous {Gpu3}"], published.Select(e => $"{e.Kind} {e.Subject}"));
        Assert.All(published, e => Assert.Equal("false", e.Attributes["at_start"]));
        Assert.All(published, e => Assert.Equal(EventSeverity.Error, e.Severity));
    }

    [Fact]
    public void A_duplicate_bus_id_that_appears_after_start_is_marked_by_the_MIG_capacity_a_lease_plans_on()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![1]!["migMode"] = true;
            s["gpus"]![4]!["migMode"] = true;
        });
        using Daemon daemon = new(server);

        File.WriteAllText(server.IdentityPath, "4 busId 0000:2a:00.0\n");
        IReadOnlyList<PciAddress> offered = [.. daemon.Applier.Capacity().Select(c => c.Gpu).Distinct()];

        Assert.Empty(offered);
        Assert.Equal(new HashSet<PciAddress> { PciAddress.Parse("0000:2a:00.0") }, daemon.Registry.Unhealthy());
        Assert.Equal(["gpu.ambiguous", "gpu.ambiguous"], daemon.Published().Select(e => e.Kind));
    }

    [Fact]
    public void A_duplicate_seen_at_start_is_cleared_by_a_later_read_that_no_longer_sees_it()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![3]!["uuid"] = Uuid0);
        using Daemon daemon = new(server);
        Assert.Equal(new HashSet<PciAddress> { Gpu0, Gpu3 }, daemon.Registry.Unhealthy());
        daemon.Published();

        File.WriteAllText(server.IdentityPath, $"3 uuid {Uuid3}\n");
        IReadOnlyList<GpuInfo> gpus = daemon.Inventory.Read(includeSerial: false);

        Assert.Empty(daemon.Registry.Unhealthy());
        Assert.All(gpus, g => Assert.Equal(GpuHealth.Healthy, g.Health));
        List<Event> cleared = daemon.Published();
        Assert.Equal([$"gpu.ambiguity-cleared {Gpu0}", $"gpu.ambiguity-cleared {Gpu3}"], cleared.Select(e => $"{e.Kind} {e.Subject}"));
        Assert.Equal($"GPU {Gpu3} is no longer ambiguous: NVML reports UUID {Uuid3} and bus id {Gpu3} for it alone (was {Uuid0}, {Gpu3}); its health is healthy", cleared[1].Message);
        Assert.Equal(Gpu3, daemon.Inventory.Resolve("3").Address); // MIG changes reach it again
    }

    [Fact]
    public void A_read_that_misses_a_GPU_does_not_clear_an_ambiguity()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![3]!["uuid"] = Uuid0;
            s["gpus"]![5]!["failures"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject
            {
                ["function"] = "nvmlDeviceGetUUID",
                ["return"] = "UNKNOWN",
                ["times"] = -1,
            });
        });
        using Daemon daemon = new(server);

        File.WriteAllText(server.IdentityPath, $"3 uuid {Uuid3}\n");
        daemon.Inventory.Read(includeSerial: false);

        Assert.Contains(Gpu0, daemon.Registry.Unhealthy());
        Assert.Contains(Gpu3, daemon.Registry.Unhealthy());
        Assert.DoesNotContain(daemon.Published(), e => e.Kind == "gpu.ambiguity-cleared");
    }

    /// <summary>The daemon's GPU services on the fake server (start-up health read included), and the events they publish.</summary>
    private sealed class Daemon : IDisposable
    {
        private readonly ServiceProvider _provider;
        private readonly EventBus.Subscription _events;

        public Daemon(FakeServer server)
        {
            var bus = new EventBus();
            _events = bus.Subscribe(replayRecent: false);
            var services = new ServiceCollection();
            services.AddLogging();
            services.AddSingleton(bus);
            GpuRegistration.Add(services);
            services.AddSingleton(server.Nvml);
            _provider = services.BuildServiceProvider();
            Registry = _provider.GetRequiredService<GpuHealthRegistry>();
            Inventory = _provider.GetRequiredService<GpuInventory>();
            Applier = _provider.GetRequiredService<MigApplier>();
        }

        public GpuHealthRegistry Registry { get; }

        public GpuInventory Inventory { get; }

        public MigApplier Applier { get; }

        /// <summary>The events published since the last call.</summary>
        public List<Event> Published()
        {
            var published = new List<Event>();
            while (_events.Reader.TryRead(out Event? e))
            {
                published.Add(e);
            }

            return published;
        }

        public void Dispose()
        {
            _events.Dispose();
            _provider.Dispose();
        }
    }
}
