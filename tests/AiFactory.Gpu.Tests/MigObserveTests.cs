using System.Text.Json.Nodes;
using AiFactory.Agent.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// Reading MIG per GPU on the 8-GPU H100 server: one GPU NVML gives no handle for (lost) or fails on is reported with
/// its bus id and NVML's error, and the others are read and applied as usual; a GPU whose state cannot be read is
/// never changed.
/// </summary>
[Collection("fake-nvml")]
public sealed class MigObserveTests
{
    [Fact]
    public void A_GPU_without_an_NVML_handle_is_reported_by_its_bus_id_and_the_others_are_still_read()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            s["gpus"]![3]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlDeviceGetHandleByIndex_v2", ["return"] = "GPU_IS_LOST", ["times"] = -1 });
        });
        server.Applier.Apply("0", ["3g.40gb", "3g.40gb"], keepExisting: false);

        MigObservation seen = server.Applier.Observe();

        Assert.Null(seen.Unavailable);
        Assert.Equal(8, seen.Gpus.Count);
        Assert.Equal(["3g.40gb@0:4", "3g.40gb@4:4"], seen.Gpus[PciAddress.Parse("0000:18:00.0")].Instances.Select(i => $"{i.Profile}@{i.Placement}"));
        Assert.Null(seen.Gpus[PciAddress.Parse("0000:2a:00.0")].Error);
        string error = seen.Gpus[PciAddress.Parse("0000:5d:00.0")].Error!;
        Assert.StartsWith("NVML gives no handle for it (GPU 3: nvmlDeviceGetHandleByIndex_v2 failed", error, StringComparison.Ordinal);
        Assert.Contains("NVML_ERROR_GPU_IS_LOST", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_layout_is_still_applied_on_a_GPU_beside_one_NVML_has_lost()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![1]!["migMode"] = true;
            s["gpus"]![0]!["lost"] = true;
        });

        MigApplyResult result = server.Applier.Apply("0000:2a:00.0", ["7g.80gb"], keepExisting: false);

        Assert.Equal(["7g.80gb@0:8"], result.Final.Select(i => $"{i.Profile}@{i.Placement}"));
        Assert.NotNull(server.Applier.Observe().Gpus[PciAddress.Parse("0000:18:00.0")].Error);
    }

    [Fact]
    public void An_apply_on_a_GPU_whose_instances_cannot_be_read_is_refused_naming_it_and_changes_nothing()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            s["gpus"]![0]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlDeviceGetGpuInstances", ["return"] = "UNKNOWN", ["times"] = -1 });
        });

        var ex = Assert.Throws<MigRefusedException>(() => server.Applier.Apply("0", ["7g.80gb"], keepExisting: false));

        Assert.StartsWith("the MIG state of 0000:18:00.0 cannot be read (nvmlDeviceGetGpuInstances failed", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("nothing was changed on it", ex.Message, StringComparison.Ordinal);
        string migState = Path.Combine(server.Root, "mig.state");
        Assert.False(File.Exists(migState) && File.ReadAllLines(migState).Any(l => l.StartsWith("gi 0 ", StringComparison.Ordinal)));
    }
}
