using System.Text.Json.Nodes;
using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Model.Pci;
using Microsoft.Extensions.DependencyInjection;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// Two GPUs NVML reports with one UUID or one bus id (8-GPU H100 server): found at start, both named in a warning,
/// avoided by leases, left out of the MIG capacity leases plan on, and refused for MIG changes with the duplicated
/// value named; the other GPUs are unaffected.
/// </summary>
[Collection("fake-nvml")]
public sealed class DuplicateGpuIdentityTests
{
    private const string Uuid0 = "GPU-5e000000-5a1d-4e2f-9c3b-fa4e00000018";

    [Fact]
    public void Two_GPUs_reporting_one_UUID_are_both_marked_at_start_naming_the_UUID_and_both_GPUs()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![3]!["uuid"] = Uuid0);

        (IReadOnlySet<PciAddress> avoided, List<Event> published) = Start(server);

        Assert.Equal(new HashSet<PciAddress> { PciAddress.Parse("0000:18:00.0"), PciAddress.Parse("0000:5d:00.0") }, avoided);
        Assert.Equal(["gpu.ambiguous 0000:18:00.0", "gpu.ambiguous 0000:5d:00.0"], published.Select(e => $"{e.Kind} {e.Subject}").Order());
        Assert.All(published, e => Assert.Equal(
            $"GPU {e.Subject} is unhealthy at start-up: NVML reports UUID {Uuid0} for both GPU 0 (0000:18:00.0) and GPU 3 (0000:5d:00.0); neither is partitioned or leased; leases avoid it",
            e.Message));
    }

    [Fact]
    public void A_MIG_layout_on_a_GPU_sharing_its_UUID_is_refused_naming_the_UUID_by_any_selector_and_changes_nothing()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![3]!["uuid"] = Uuid0;
            s["gpus"]![3]!["migMode"] = true;
            s["gpus"]![1]!["migMode"] = true;
        });

        foreach (string selector in new[] { "3", "0000:5d:00.0", Uuid0 })
        {
            var ex = Assert.Throws<MigRefusedException>(() => server.Applier.Apply(selector, ["7g.80gb"], keepExisting: false));
            Assert.Contains($"is ambiguous: NVML reports UUID {Uuid0} for both GPU 0 (0000:18:00.0) and GPU 3 (0000:5d:00.0)", ex.Message, StringComparison.Ordinal);
            Assert.EndsWith("so it is neither partitioned nor leased (check the driver and nvidia-smi -L)", ex.Message, StringComparison.Ordinal);
        }

        Assert.Empty(server.Applier.Observe().Gpus[PciAddress.Parse("0000:5d:00.0")].Instances);
        Assert.Equal(["7g.80gb@0:8"], server.Applier.Apply("1", ["7g.80gb"], keepExisting: false).Final.Select(i => $"{i.Profile}@{i.Placement}"));
    }

    [Fact]
    public void Two_GPUs_reporting_one_bus_id_are_refused_for_MIG_and_left_out_of_the_MIG_capacity_leases_plan_on()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![5]!["busId"] = "0000:9a:00.0";
            foreach (int i in new[] { 1, 4, 5 })
            {
                s["gpus"]![i]!["migMode"] = true;
            }
        });

        var ex = Assert.Throws<MigRefusedException>(() => server.Applier.CreateAt("5", "1g.10gb", 0, 1));

        Assert.StartsWith("GPU 5 (0000:9a:00.0, UUID GPU-5e000005-5a1d-4e2f-9c3b-fa4e000000ab) is ambiguous: NVML reports bus id 0000:9a:00.0 for both GPU 4 (0000:9a:00.0) and GPU 5 (0000:9a:00.0)", ex.Message, StringComparison.Ordinal);
        Assert.Equal([PciAddress.Parse("0000:2a:00.0")], server.Applier.Capacity().Select(c => c.Gpu).Distinct());
        Assert.Contains(PciAddress.Parse("0000:9a:00.0"), Start(server).Avoided);
    }

    /// <summary>The daemon's start-up health read on the fake server: what leases avoid, and the events published.</summary>
    private static (IReadOnlySet<PciAddress> Avoided, List<Event> Published) Start(FakeServer server)
    {
        var bus = new EventBus();
        using EventBus.Subscription events = bus.Subscribe(replayRecent: false);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(bus);
        GpuRegistration.Add(services);
        services.AddSingleton(server.Nvml);
        using ServiceProvider provider = services.BuildServiceProvider();
        IReadOnlySet<PciAddress> avoided = provider.GetRequiredService<GpuHealthRegistry>().Unhealthy();
        var published = new List<Event>();
        while (events.Reader.TryRead(out Event? e))
        {
            published.Add(e);
        }

        return (avoided, published);
    }
}
