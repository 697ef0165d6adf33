using System.Buffers;
using System.Diagnostics;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Agent.Metrics.Sources;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Metrics;

/// <summary>
/// Runs every collector into one exposition, then writes each collector's
/// <c>aifactory_scrape_collector_success</c> and <c>aifactory_scrape_collector_duration_seconds</c>.
/// A collector that throws is rolled back (no half-written families) and logged.
/// </summary>
internal sealed partial class MetricsScraper
{
    private readonly IReadOnlyList<IMetricsCollector> _collectors;
    private readonly INodeSnapshotSource? _node;
    private readonly ILeaseSource? _leases;
    private readonly IGpuTelemetrySource? _gpus;
    private readonly ILogger _logger;
    private readonly LabelSet[] _collectorLabels;

    // The scrapes' own pool, at most two arrays of a size: the shared pool keeps one array of every size a buffer grew
    // through (16 KiB … 512 KiB for an 8-GPU server with MIG) for every thread that served a scrape, several MiB of a
    // heap that otherwise holds less, kept until a minute after the last scrape.
    private readonly ArrayPool<byte> _buffers;
    private int _lastLength;

    public MetricsScraper(
        IEnumerable<IMetricsCollector> collectors, INodeSnapshotSource? node, ILeaseSource? leases, IGpuTelemetrySource? gpus, ILogger logger,
        ArrayPool<byte>? buffers = null)
    {
        _buffers = buffers ?? ArrayPool<byte>.Create(maxArrayLength: 64 * 1024 * 1024, maxArraysPerBucket: 2);
        _collectors = [.. collectors];
        _node = node;
        _leases = leases;
        _gpus = gpus;
        _logger = logger;
        _collectorLabels = [.. _collectors.Select(c => LabelSet.Create([MetricNames.Labels.Collector], [c.Name]))];
    }

    /// <summary>The collectors, in the order they run.</summary>
    public IReadOnlyList<IMetricsCollector> Collectors => _collectors;

    /// <summary>One scrape in <paramref name="format"/>; the caller disposes the buffer.</summary>
    public PooledBuffer Scrape(ExpositionFormat format)
    {
        // Sized from the last scrape (an eighth more for growth), so that a scrape takes one array, not a chain of them.
        int last = Volatile.Read(ref _lastLength);
        var buffer = new PooledBuffer(Math.Max(16 * 1024, last + (last / 8)), _buffers);
        try
        {
            var writer = new ExpositionWriter(buffer, format);
            var context = new ScrapeContext(_node, _leases, _gpus);
            Span<bool> success = stackalloc bool[_collectors.Count];
            Span<double> seconds = stackalloc double[_collectors.Count];
            for (int i = 0; i < _collectors.Count; i++)
            {
                ExpositionWriter.Mark mark = writer.GetMark();
                long started = Stopwatch.GetTimestamp();
                try
                {
                    _collectors[i].Collect(context, writer);
                    success[i] = true;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    writer.Rollback(mark);
                    LogCollectorFailed(_logger, _collectors[i].Name, ex.Message, ex);
                }

                seconds[i] = Stopwatch.GetElapsedTime(started).TotalSeconds;
            }

            for (int i = 0; i < _collectors.Count; i++)
            {
                writer.Sample(MetricNames.Agent.CollectorSuccess, _collectorLabels[i], success[i] ? 1 : 0);
            }

            for (int i = 0; i < _collectors.Count; i++)
            {
                writer.Sample(MetricNames.Agent.CollectorDuration, _collectorLabels[i], seconds[i]);
            }

            writer.Finish();
            Volatile.Write(ref _lastLength, buffer.Length);
            return buffer;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    [LoggerMessage(EventId = EventIds.MetricsCollectorFailed, Level = LogLevel.Warning, Message = "Metrics collector {Collector} failed: {Reason}")]
    private static partial void LogCollectorFailed(ILogger logger, string collector, string reason, Exception exception);
}
