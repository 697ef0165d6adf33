using System.Text.Json.Nodes;
using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Metrics;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Nvml;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// NVML errors are counted once, where the agent's NVML is wrapped (<see cref="MeteredNvml"/>), whoever made the call:
/// the scrape, GPU listing, the health watcher and MIG apply; and one lost GPU costs the scrape only that GPU.
/// </summary>
[Collection("fake-nvml")]
public sealed class NvmlErrorCountingTests
{
    private const string Lost = "NVML_ERROR_GPU_IS_LOST";

    [Fact]
    public void A_lost_GPU_is_left_out_of_the_scrape_the_other_seven_are_read_and_the_error_is_counted_once()
    {
        var metrics = new AgentMetrics();
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![3]!["lost"] = true, metrics: metrics);
        var source = new NvmlGpuTelemetrySource(server.Nvml, metrics);

        GpuTelemetrySnapshot snapshot = source.Read();

        Assert.Equal([0, 1, 2, 4, 5, 6, 7], snapshot.Gpus.Select(g => g.Index));
        Assert.All(snapshot.Gpus, g => Assert.NotNull(g.GpuTempCelsius));
        Assert.Equal(1, Errors(metrics, "nvmlDeviceGetHandleByIndex_v2", Lost));
        Assert.Single(metrics.NvmlErrors());
    }

    [Fact]
    public void A_field_NVML_cannot_read_is_left_out_alone_and_counted_while_not_supported_fields_are_not()
    {
        var metrics = new AgentMetrics();
        using var server = new FakeServer(
            "dgx-h100",
            s => s["gpus"]![1]!["fieldFailures"] = new JsonArray(new JsonObject { ["fieldId"] = NvmlFieldIds.TotalEnergyConsumption, ["return"] = "UNKNOWN" }),
            metrics: metrics);
        var source = new NvmlGpuTelemetrySource(server.Nvml, metrics);

        GpuTelemetrySnapshot snapshot = source.Read();

        Assert.Null(snapshot.Gpus[1].TotalEnergyMillijoules);
        Assert.NotNull(snapshot.Gpus[1].PowerWatts);
        Assert.NotNull(snapshot.Gpus[0].TotalEnergyMillijoules);
        Assert.Equal(1, Errors(metrics, "nvmlDeviceGetFieldValues", "NVML_ERROR_UNKNOWN"));
        Assert.Single(metrics.NvmlErrors());
    }

    [Fact]
    public void Listing_GPUs_counts_the_lost_GPUs_error()
    {
        var metrics = new AgentMetrics();
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![5]!["lost"] = true, metrics: metrics);

        server.Inventory.Read(includeSerial: false);

        Assert.Equal(1, Errors(metrics, "nvmlDeviceGetHandleByIndex_v2", Lost));
    }

    [Fact]
    public void A_failed_MIG_apply_counts_the_NVML_error_that_broke_it()
    {
        var metrics = new AgentMetrics();
        using var server = new FakeServer(
            "dgx-h100",
            s =>
            {
                s["gpus"]![0]!["migMode"] = true;
                s["gpus"]![0]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlGpuInstanceCreateComputeInstance", ["return"] = "INSUFFICIENT_RESOURCES", ["times"] = 1 });
            },
            metrics: metrics);

        Assert.Throws<InvalidOperationException>(() => server.Applier.Apply("0", ["7g.80gb"], keepExisting: false));

        Assert.Equal(1, Errors(metrics, "nvmlGpuInstanceCreateComputeInstance", "NVML_ERROR_INSUFFICIENT_RESOURCES"));
    }

    [Fact]
    public async Task The_health_watcher_counts_a_GPU_it_cannot_register_and_watches_the_others()
    {
        var metrics = new AgentMetrics();
        using var server = new FakeServer(
            "dgx-h100",
            s => s["gpus"]![2]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlDeviceRegisterEvents", ["return"] = "UNKNOWN" }),
            metrics: metrics);
        using WatcherRun watcher = await WatcherRun.StartAsync(server);

        server.InjectEvent(4, NvmlEventTypes.XidCriticalError, 79);
        Event xid = await watcher.NextAsync();
        await watcher.StopAsync();

        Assert.Equal("0000:9a:00.0", xid.Subject);
        Assert.Equal(1, Errors(metrics, "nvmlDeviceRegisterEvents", "NVML_ERROR_UNKNOWN"));
    }

    private static long Errors(AgentMetrics metrics, string function, string code) =>
        metrics.NvmlErrors().SingleOrDefault(e => e.Key == (function, code)).Value;
}
