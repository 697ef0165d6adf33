using System.Text.Json.Nodes;
using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Model.Pci;
using Microsoft.Extensions.DependencyInjection;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// A GPU that is already lost or broken when the agent starts raises no health event, so the daemon asks NVML at
/// start: leases avoid it from the first request on.
/// </summary>
[Collection("fake-nvml")]
public sealed class GpuHealthAtStartTests
{
    [Fact]
    public void The_daemons_health_registry_holds_a_lost_GPU_and_one_with_uncorrectable_ECC_errors_before_any_event()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![5]!["lost"] = true;
            s["gpus"]![2]!["ecc"]!["doubleBitVolatile"] = 2;
            s["gpus"]![3]!["ecc"]!["doubleBitAggregate"] = 9; // before the last reset: repaired since
        });
        var bus = new EventBus();
        using EventBus.Subscription events = bus.Subscribe(replayRecent: false);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(bus);
        GpuRegistration.Add(services);
        services.AddSingleton(server.Nvml); // the daemon's NVML layer, opened on the fake
        using ServiceProvider provider = services.BuildServiceProvider();

        IReadOnlySet<PciAddress> leasesAvoid = provider.GetRequiredService<GpuHealthRegistry>().Unhealthy();

        Assert.Equal(new HashSet<PciAddress> { PciAddress.Parse("0000:ab:00.0"), PciAddress.Parse("0000:3a:00.0") }, leasesAvoid);
        var published = new List<Event>();
        while (events.Reader.TryRead(out Event? e))
        {
            published.Add(e);
        }

        Assert.Equal(["gpu.ecc 0000:3a:00.0", "gpu.unavailable 0000:ab:00.0"], published.Select(e => $"{e.Kind} {e.Subject}").Order());
        Assert.All(published, e => Assert.Equal(EventSeverity.Error, e.Severity));
        Assert.Equal("GPU 0000:ab:00.0 is unhealthy at start-up: NVML cannot read it, NVML_ERROR_GPU_IS_LOST (the GPU fell off the bus or is inaccessible); leases avoid it", published.Single(e => e.Subject == "0000:ab:00.0").Message);
        Assert.Equal("GPU 0000:3a:00.0 is unhealthy at start-up: 2 uncorrectable ECC error(s) since its last reset; leases avoid it", published.Single(e => e.Subject == "0000:3a:00.0").Message);
    }

    [Fact]
    public void A_healthy_server_starts_with_no_GPU_avoided_and_nothing_published()
    {
        using var server = new FakeServer("dgx-h100");
        var bus = new EventBus();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(bus);
        GpuRegistration.Add(services);
        services.AddSingleton(server.Nvml);
        using ServiceProvider provider = services.BuildServiceProvider();

        Assert.Empty(provider.GetRequiredService<GpuHealthRegistry>().Unhealthy());
        Assert.Empty(bus.Recent());
    }
}
