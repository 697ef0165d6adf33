using System.IO.Compression;
using AiFactory.Agent.Metrics;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Metrics.Tests.Fixtures;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Benchmarks.Metrics;

/// <summary>
/// One /metrics scrape of the DGX H100 fixture with all 8 GPUs in MIG mode (56 × 1g.10gb), 2 NUMA nodes,
/// NICs with VFs, hugepages and leases: the collectors plus the exposition writer, without HTTP.
/// Run: dotnet run -c Release --project tests/AiFactory.Benchmarks -- --filter '*MetricsScrape*'
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Percentiles))]
public class MetricsScrapeBenchmarks
{
    private MetricsScraper _scraper = null!;

    [GlobalSetup]
    public void Setup()
    {
        NodeSnapshot node = DgxH100.Node(vfioGpus: 0);
        var agent = new AgentMetrics();
        agent.RecordRpc("/grpc.health.v1.Health/Check", AiFactory.Grpc.StatusCode.OK, TimeSpan.FromMilliseconds(1));
        _scraper = new MetricsScraper(
            [new GpuCollector(new MetricsOptions { Hostname = "dgx-h100-01" }), new PciDeviceCollector(), new NumaCollector(), new LeaseCollector(),
             new AgentCollector(agent, "0.1.0", "bench", "bench")],
            new StaticNodeSource(node), new StaticLeaseSource(DgxH100.Leases(0)), new StaticGpuSource(DgxH100.Gpus(0)), NullLogger.Instance);
    }

    [Benchmark(Baseline = true)]
    public int Text()
    {
        using PooledBuffer buffer = _scraper.Scrape(ExpositionFormat.Text004);
        return buffer.Length;
    }

    [Benchmark]
    public int OpenMetrics()
    {
        using PooledBuffer buffer = _scraper.Scrape(ExpositionFormat.OpenMetrics100);
        return buffer.Length;
    }

    [Benchmark]
    public long TextGzip()
    {
        using PooledBuffer buffer = _scraper.Scrape(ExpositionFormat.Text004);
        using var sink = new CountingStream();
        using (var gzip = new GZipStream(sink, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(buffer.WrittenSpan);
        }

        return sink.Length;
    }

    private sealed class Percentiles : ManualConfig
    {
        public Percentiles()
        {
            AddColumn(StatisticColumn.P95, StatisticColumn.Max);
        }
    }

    private sealed class CountingStream : Stream
    {
        private long _length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _length += count;

        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;
    }
}
