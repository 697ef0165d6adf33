using System.Diagnostics;
using AiFactory.Agent.Metrics;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Host.Hardware.Uts;
using AiFactory.Metrics.Tests.Fixtures;

namespace AiFactory.Metrics.Tests.Collectors;

/// <summary>What the GPU series say about NVML itself, and the readings they take from it.</summary>
public sealed class NvmlSpecs
{
    [Fact]
    public void Without_NVML_the_gpu_collector_succeeds_and_reports_aifactory_nvml_up_0()
    {
        // The workstation case: a GPU on the nvidia driver, no libnvidia-ml: the daemon's source has no NVML.
        var source = new NvmlGpuTelemetrySource(() => null, new AgentMetrics());

        var samples = ExpositionParser.Parse(Scrapes.Text(Scrapes.Scraper(null, null, null, gpuSource: source)), openMetrics: false);

        Assert.Equal(0, samples.Single(s => s.Name == "aifactory_nvml_up").Value);
        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_scrape_collector_success" && s.Labels["collector"] == "gpu").Value);
        Assert.DoesNotContain(samples, s => s.Name.StartsWith("DCGM_", StringComparison.Ordinal));
    }

    [Fact]
    public void With_NVML_aifactory_nvml_up_is_1()
    {
        var samples = ExpositionParser.Parse(Scrapes.Text(Scrapes.GoldenHost()), openMetrics: false);

        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_nvml_up").Value);
    }

    [Theory]
    [InlineData(0UL, 0)]
    [InlineData((1UL << 20) - 1, 0)]
    [InlineData(1UL << 20, 1)]
    [InlineData((80UL << 30) + (512UL << 10), 81920)]
    public void Framebuffer_sizes_are_whole_MiB_rounded_down_as_DCGM_reports_them(ulong bytes, double mib) =>
        Assert.Equal(mib, NvmlGpuTelemetrySource.WholeMiB(bytes));

    [Fact]
    public void The_hostname_label_defaults_to_the_whole_kernel_node_name_as_uname_prints_it()
    {
        var uname = new ProcessStartInfo("uname", "-n") { RedirectStandardOutput = true };
        using Process process = Process.Start(uname)!;
        string expected = process.StandardOutput.ReadToEnd().TrimEnd('\n');
        process.WaitForExit();

        Assert.Equal(expected, NodeName.Read());
        Assert.Equal(expected, new MetricsOptions().Hostname);
    }
}
