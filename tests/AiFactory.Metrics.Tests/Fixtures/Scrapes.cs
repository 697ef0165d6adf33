using System.Text;
using System.Text.RegularExpressions;
using AiFactory.Agent.Metrics;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Grpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Metrics.Tests.Fixtures;

/// <summary>Builds scrapers over literal sources, the way the daemon composes them.</summary>
internal static partial class Scrapes
{
    public static readonly MetricsOptions Options = new() { Hostname = "dgx-h100-01" };

    public static MetricsScraper Scraper(
        NodeSnapshot? node, GpuTelemetrySnapshot? gpus, IReadOnlyList<LeaseSnapshot>? leases, AgentMetrics? agent = null, MetricsOptions? options = null,
        IGpuTelemetrySource? gpuSource = null)
    {
        gpuSource ??= gpus is null ? null : new StaticGpuSource(gpus);
        var collectors = new List<IMetricsCollector>();
        if (gpuSource is not null)
        {
            collectors.Add(new GpuCollector(options ?? Options));
        }

        if (node is not null)
        {
            collectors.Add(new PciDeviceCollector());
            collectors.Add(new NumaCollector());
        }

        if (leases is not null)
        {
            collectors.Add(new LeaseCollector());
        }

        collectors.Add(new AgentCollector(agent ?? SampleAgentMetrics(), "0.1.0", "0123abc", "test runtime"));
        return new MetricsScraper(
            collectors,
            node is null ? null : new StaticNodeSource(node),
            leases is null ? null : new StaticLeaseSource(leases),
            gpuSource,
            NullLogger.Instance);
    }

    /// <summary>
    /// The golden host: the DGX H100 with GPU 0 out of MIG mode, GPUs 1–5 in MIG mode (35 instances) and 2 GPUs on
    /// vfio-pci, leased.
    /// </summary>
    public static MetricsScraper GoldenHost() =>
        Scraper(DgxH100.Node(vfioGpus: 2), DgxH100.Gpus(vfioGpus: 2, withoutMig: 1), DgxH100.Leases(vfioGpus: 2));

    /// <summary>The benchmark host: all 8 GPUs in MIG mode, 56 instances.</summary>
    public static MetricsScraper FullMigHost() =>
        Scraper(DgxH100.Node(vfioGpus: 0), DgxH100.Gpus(vfioGpus: 0), DgxH100.Leases(vfioGpus: 0));

    public static AgentMetrics SampleAgentMetrics()
    {
        var agent = new AgentMetrics();
        agent.RecordRpc("/grpc.health.v1.Health/Check", StatusCode.OK, TimeSpan.FromMilliseconds(0.3));
        agent.RecordRpc("/grpc.health.v1.Health/Check", StatusCode.OK, TimeSpan.FromMilliseconds(2));
        agent.RecordRpc("/aifactory.agent.v1.Leases/Create", StatusCode.FailedPrecondition, TimeSpan.FromMilliseconds(40));
        agent.RecordProfileApply("applied", TimeSpan.FromSeconds(12.5));
        agent.RecordDrift("hugepages");
        agent.RecordDiscovery("ok", TimeSpan.FromMilliseconds(43));
        agent.RecordNvmlError("nvmlDeviceGetUtilizationRates", "NVML_ERROR_UNKNOWN");
        return agent;
    }

    public static string Text(MetricsScraper scraper, ExpositionFormat format = ExpositionFormat.Text004)
    {
        using PooledBuffer buffer = scraper.Scrape(format);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The exposition with the collector durations (which vary run to run) replaced by 0.</summary>
    public static string Stable(string exposition) => DurationLine().Replace(exposition, "$1 0");

    [GeneratedRegex(@"^(aifactory_scrape_collector_duration_seconds\{[^}]*\}) \S+$", RegexOptions.Multiline)]
    private static partial Regex DurationLine();
}
