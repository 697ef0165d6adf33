using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using AiFactory.Metrics.Tests.Fixtures;
using AiFactory.Tests.Shared;

namespace AiFactory.Metrics.Tests.EndToEnd;

/// <summary>
/// The daemon on the dgx-h100 fixture with the fake libnvidia-ml (tests/setup.d/40-fake-nvml.sh) holding the
/// all-1g.10gb MIG layout on all eight GPUs: dcgm-exporter's series as Prometheus stores them.
/// </summary>
public sealed class FakeNvmlSpecs
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    /// <summary>The fake NVML's MIG state file: every GPU in MIG mode with 7 × 1g.10gb (profile id 19), GPU instance ids 7–13.</summary>
    private static string AllOneGTenGb()
    {
        var sb = new StringBuilder();
        for (int gpu = 0; gpu < 8; gpu++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"mode {gpu} 1 1\n");
            for (int slot = 0; slot < 7; slot++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"gi {gpu} {7 + slot} 19 {slot} 1\n");
                sb.Append(CultureInfo.InvariantCulture, $"ci {gpu} {7 + slot} 0 0 0 1\n");
            }
        }

        return sb.ToString();
    }

    private static string FakeNvml =>
        Environment.GetEnvironmentVariable("AIFACTORY_FAKE_NVML") is { Length: > 0 } p ? p :
        Path.Combine(HardwareFixtures.RepositoryRoot, "artifacts", "fake-nvml", "libnvidia-ml.so.1") is var built && File.Exists(built) ? built :
        throw new InvalidOperationException("the fake libnvidia-ml is not built: run tests/setup.d/40-fake-nvml.sh");

    [Fact]
    public async Task The_dgx_h100_with_56_MIG_instances_gives_dcgm_series_matching_the_golden_file_and_Prometheus_counts_them()
    {
        string fixture = HardwareFixtures.Root("dgx-h100");
        string state = Path.Combine(Path.GetTempPath(), "aifactory-metrics-mig-" + Guid.NewGuid().ToString("N") + ".state");
        File.WriteAllText(state, AllOneGTenGb());
        try
        {
            string target = "127.0.0.1:" + AgentProcess.FreePort().ToString(CultureInfo.InvariantCulture);
            using AgentProcess agent = AgentProcess.Start(
                new Dictionary<string, string>
                {
                    ["FAKE_NVML_STATE"] = Path.Combine(HardwareFixtures.RepositoryRoot, "hardware-fixtures", "dgx-h100", "nvml.json"),
                    ["FAKE_NVML_MIG_STATE"] = state,
                },
                "--metrics-listen", target, "--log-level", "warning", "--nvml-library", FakeNvml,
                "--sysfs-root", Path.Combine(fixture, "sys"), "--procfs-root", Path.Combine(fixture, "proc"));

            string exposition = await agent.WaitForHttpAsync($"http://{target}/metrics", StartTimeout);
            string dcgm = string.Concat(exposition.Split('\n')
                .Where(l => l.Contains("DCGM_", StringComparison.Ordinal))
                .Select(l => l + "\n"));
            Golden.AssertMatches("dgx-h100-fake-nvml-mig.prom", dcgm);
            var samples = ExpositionParser.Parse(exposition, openMetrics: false);
            Assert.Equal(1, samples.Single(s => s.Name == "aifactory_scrape_collector_success" && s.Labels["collector"] == "gpu").Value);
            Assert.Equal(56, samples.Count(s => s.Name == "DCGM_FI_DEV_FB_FREE" && s.Labels.ContainsKey("GPU_I_ID")));

            using PrometheusServer prometheus = PrometheusServer.Start("gpu", target);
            var mig = await prometheus.QueryUntilPresentAsync("count(DCGM_FI_DEV_FB_FREE{GPU_I_PROFILE=\"1g.10gb\"})", StartTimeout);
            var perGpu = await prometheus.QueryUntilPresentAsync("count by (gpu) (DCGM_FI_DEV_FB_USED{GPU_I_ID!=\"\"})", StartTimeout);
            var power = await prometheus.QueryUntilPresentAsync("count(DCGM_FI_DEV_POWER_USAGE{Hostname=\"e2e-host\"})", StartTimeout);
            var memory = await prometheus.QueryUntilPresentAsync("sum by (gpu) (DCGM_FI_DEV_FB_FREE) + sum by (gpu) (DCGM_FI_DEV_FB_USED)", StartTimeout);
            var unsplit = await prometheus.QueryUntilPresentAsync("count(DCGM_FI_DEV_SM_CLOCK)", StartTimeout);

            Assert.Equal(56, Assert.Single(mig).Value);
            Assert.Equal(8, perGpu.Count);
            Assert.All(perGpu, g => Assert.Equal(7, g.Value));
            // dcgm-exporter's default layout: a GPU split into instances is only its instances, device-wide readings on each.
            Assert.Equal(56, Assert.Single(power).Value);
            Assert.Equal(56, Assert.Single(unsplit).Value);
            // Each GPU's memory counted once: 7 × 1g.10gb of 9856 MiB, not the whole GPU plus its instances.
            Assert.Equal(8, memory.Count);
            Assert.All(memory, g => Assert.Equal(7 * 9856, g.Value));
        }
        finally
        {
            File.Delete(state);
        }
    }

    [Fact]
    public async Task An_XID_the_fake_NVML_raises_on_one_GPU_becomes_its_DCGM_FI_DEV_XID_ERRORS_and_the_others_stay_at_zero()
    {
        string fixture = HardwareFixtures.Root("dgx-h100");
        string events = Path.Combine(Path.GetTempPath(), "aifactory-metrics-xid-" + Guid.NewGuid().ToString("N") + ".events");
        File.WriteAllText(events, string.Empty);
        try
        {
            string target = "127.0.0.1:" + AgentProcess.FreePort().ToString(CultureInfo.InvariantCulture);
            using AgentProcess agent = AgentProcess.Start(
                new Dictionary<string, string>
                {
                    ["FAKE_NVML_STATE"] = Path.Combine(HardwareFixtures.RepositoryRoot, "hardware-fixtures", "dgx-h100", "nvml.json"),
                    ["FAKE_NVML_EVENTS"] = events,
                },
                "--metrics-listen", target, "--log-level", "warning", "--nvml-library", FakeNvml,
                "--sysfs-root", Path.Combine(fixture, "sys"), "--procfs-root", Path.Combine(fixture, "proc"));
            string url = $"http://{target}/metrics";
            var before = ExpositionParser.Parse(await agent.WaitForHttpAsync(url, StartTimeout), openMetrics: false);

            // The watcher sees only events raised after it registered (as with NVML): raise the XID until it shows.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            List<ExpositionParser.Sample> after = before;
            DateTime deadline = DateTime.UtcNow + StartTimeout;
            while (Xid(after, "3") != 79 && DateTime.UtcNow < deadline)
            {
                File.AppendAllText(events, "3 0x8 79\n");
                await Task.Delay(200);
                after = ExpositionParser.Parse(await http.GetStringAsync(new Uri(url)), openMetrics: false);
            }

            Assert.All(Enumerable.Range(0, 8), gpu => Assert.Equal(0, Xid(before, gpu.ToString(CultureInfo.InvariantCulture))));
            Assert.Equal(79, Xid(after, "3"));
            Assert.All(new[] { "0", "1", "2", "4", "5", "6", "7" }, gpu => Assert.Equal(0, Xid(after, gpu)));
        }
        finally
        {
            File.Delete(events);
        }
    }

    [Fact]
    public async Task A_lost_GPU_drops_out_of_the_DCGM_series_while_the_other_seven_stay_and_its_NVML_error_is_counted()
    {
        string fixture = HardwareFixtures.Root("dgx-h100");
        string state = Path.Combine(Path.GetTempPath(), "aifactory-metrics-lost-" + Guid.NewGuid().ToString("N") + ".json");
        var nvml = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(HardwareFixtures.RepositoryRoot, "hardware-fixtures", "dgx-h100", "nvml.json")))!;
        nvml["gpus"]![3]!["lost"] = true;
        File.WriteAllText(state, nvml.ToJsonString());
        try
        {
            string target = "127.0.0.1:" + AgentProcess.FreePort().ToString(CultureInfo.InvariantCulture);
            using AgentProcess agent = AgentProcess.Start(
                new Dictionary<string, string> { ["FAKE_NVML_STATE"] = state },
                "--metrics-listen", target, "--log-level", "warning", "--nvml-library", FakeNvml,
                "--sysfs-root", Path.Combine(fixture, "sys"), "--procfs-root", Path.Combine(fixture, "proc"));

            var samples = ExpositionParser.Parse(await agent.WaitForHttpAsync($"http://{target}/metrics", StartTimeout), openMetrics: false);

            Assert.Equal(1, samples.Single(s => s.Name == "aifactory_scrape_collector_success" && s.Labels["collector"] == "gpu").Value);
            Assert.Equal(
                ["0", "1", "2", "4", "5", "6", "7"],
                samples.Where(s => s.Name == "DCGM_FI_DEV_GPU_TEMP").Select(s => s.Labels["gpu"]).Order(StringComparer.Ordinal));
            Assert.True(samples.Single(s => s.Name == "aifactory_nvml_errors_total" && s.Labels["function"] == "nvmlDeviceGetHandleByIndex_v2" &&
                s.Labels["code"] == "NVML_ERROR_GPU_IS_LOST").Value >= 1);
        }
        finally
        {
            File.Delete(state);
        }
    }

    [Fact]
    public async Task Power_usage_is_nvmlDeviceGetPowerUsage_as_DCGM_reads_it_and_the_instant_field_only_where_that_is_not_supported()
    {
        string fixture = HardwareFixtures.Root("dgx-h100");
        string state = Path.Combine(Path.GetTempPath(), "aifactory-metrics-power-" + Guid.NewGuid().ToString("N") + ".json");
        var nvml = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(HardwareFixtures.RepositoryRoot, "hardware-fixtures", "dgx-h100", "nvml.json")))!;
        // GPU 0: averaged 250 W, instant 100 W. GPU 1: no averaged reading (an older board), instant 99 W.
        // GPU 2: the averaged reading fails otherwise, so no power sample (the instant one stands in only for NOT_SUPPORTED).
        nvml["gpus"]![0]!["powerMilliwatts"] = 100000;
        nvml["gpus"]![0]!["powerUsageMilliwatts"] = 250000;
        nvml["gpus"]![1]!["powerMilliwatts"] = 99000;
        nvml["gpus"]![1]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlDeviceGetPowerUsage", ["return"] = "NOT_SUPPORTED" });
        nvml["gpus"]![2]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlDeviceGetPowerUsage", ["return"] = "UNKNOWN" });
        File.WriteAllText(state, nvml.ToJsonString());
        try
        {
            string target = "127.0.0.1:" + AgentProcess.FreePort().ToString(CultureInfo.InvariantCulture);
            using AgentProcess agent = AgentProcess.Start(
                new Dictionary<string, string> { ["FAKE_NVML_STATE"] = state },
                "--metrics-listen", target, "--log-level", "warning", "--nvml-library", FakeNvml,
                "--sysfs-root", Path.Combine(fixture, "sys"), "--procfs-root", Path.Combine(fixture, "proc"));

            var samples = ExpositionParser.Parse(await agent.WaitForHttpAsync($"http://{target}/metrics", StartTimeout), openMetrics: false);

            Assert.Equal(250, Power(samples, "0"));
            Assert.Equal(99, Power(samples, "1"));
            Assert.Null(Power(samples, "2"));
            Assert.Equal(1, samples.Single(s => s.Name == "aifactory_nvml_up").Value);
        }
        finally
        {
            File.Delete(state);
        }
    }

    private static double? Power(List<ExpositionParser.Sample> samples, string gpu) =>
        samples.SingleOrDefault(s => s.Name == "DCGM_FI_DEV_POWER_USAGE" && s.Labels["gpu"] == gpu)?.Value;

    private static double? Xid(List<ExpositionParser.Sample> samples, string gpu) =>
        samples.SingleOrDefault(s => s.Name == "DCGM_FI_DEV_XID_ERRORS" && s.Labels["gpu"] == gpu)?.Value;
}
