using System.Text.Json.Nodes;
using AiFactory.Host.Model.Gpu;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// One GPU answering an optional query with an error nvml.h documents for it (an older struct version, NOT_SUPPORTED)
/// leaves that one field unknown: the GPU and the others are still listed.
/// </summary>
[Collection("fake-nvml")]
public sealed class GpuListToleranceTests
{
    [Theory]
    [InlineData("INVALID_ARGUMENT")]
    [InlineData("ARGUMENT_VERSION_MISMATCH")]
    [InlineData("NOT_SUPPORTED")]
    public void A_GPU_whose_driver_refuses_the_fabric_struct_is_listed_without_fabric(string code)
    {
        using var server = new FakeServer("dgx-h100", s => Fail(s, 2, "nvmlDeviceGetGpuFabricInfoV", code));

        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: false);

        Assert.Equal(8, gpus.Count);
        Assert.Null(gpus[2].Fabric);
        Assert.Equal(GpuHealth.Healthy, gpus[2].Health);
        Assert.All(gpus.Where(g => g.Index != 2), g => Assert.Equal("completed", g.Fabric?.State));
    }

    [Fact]
    public void A_GPU_answering_NOT_SUPPORTED_for_its_CPU_affinity_is_listed_with_it_unknown()
    {
        using var server = new FakeServer("dgx-h100", s => Fail(s, 1, "nvmlDeviceGetCpuAffinity", "NOT_SUPPORTED"));

        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: false);

        Assert.Equal(string.Empty, gpus[1].CpuAffinity);
        Assert.Equal("0-55,112-167", gpus[0].CpuAffinity);
        Assert.Equal(8, gpus.Count(g => g.Health == GpuHealth.Healthy));
    }

    [Fact]
    public void A_GPU_answering_NOT_SUPPORTED_for_its_memory_is_listed_with_it_unknown()
    {
        using var server = new FakeServer("dgx-h100", s => Fail(s, 6, "nvmlDeviceGetMemoryInfo_v2", "NOT_SUPPORTED"));

        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: false);

        Assert.Equal(0UL, gpus[6].MemoryTotalBytes);
        Assert.Equal(81559UL << 20, gpus[5].MemoryTotalBytes);
        Assert.Equal(8, gpus.Count(g => g.Health == GpuHealth.Healthy));
    }

    [Fact]
    public void A_GPU_failing_a_required_query_is_a_row_with_the_error_and_the_others_are_listed()
    {
        using var server = new FakeServer("dgx-h100", s => Fail(s, 4, "nvmlDeviceGetName", "UNKNOWN"));

        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: false);

        Assert.Equal("nvmlDeviceGetName: NVML_ERROR_UNKNOWN", gpus[4].HealthReason.Split(" (")[0]);
        Assert.Equal(GpuHealth.Unhealthy, gpus[4].Health);
        Assert.Equal("0000:9a:00.0", gpus[4].Address.ToString());
        Assert.Equal(7, gpus.Count(g => g.Health == GpuHealth.Healthy));
    }

    private static void Fail(JsonObject state, int gpu, string function, string code) =>
        state["gpus"]![gpu]!["failures"] = new JsonArray(new JsonObject { ["function"] = function, ["return"] = code });
}
