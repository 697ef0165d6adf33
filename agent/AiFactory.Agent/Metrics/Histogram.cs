using AiFactory.Agent.Metrics.Exposition;

namespace AiFactory.Agent.Metrics;

/// <summary>A thread-safe histogram with fixed bucket bounds.</summary>
internal sealed class Histogram
{
    /// <summary>Bounds for RPCs: 0.5 ms to 10 s.</summary>
    public static readonly double[] RpcBounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Bounds for slow operations (profile apply, discovery): 10 ms to 5 min.</summary>
    public static readonly double[] OperationBounds = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    private readonly double[] _bounds;
    private readonly long[] _counts;
    private readonly object _gate = new();
    private double _sum;
    private long _count;

    public Histogram(double[] bounds)
    {
        _bounds = bounds;
        _counts = new long[bounds.Length];
    }

    public void Observe(double value)
    {
        int i = Array.BinarySearch(_bounds, value);
        if (i < 0)
        {
            i = ~i;
        }

        lock (_gate)
        {
            if (i < _counts.Length)
            {
                _counts[i]++;
            }

            _sum += value;
            _count++;
        }
    }

    public HistogramSnapshot Snapshot()
    {
        var cumulative = new long[_counts.Length];
        lock (_gate)
        {
            long running = 0;
            for (int i = 0; i < _counts.Length; i++)
            {
                running += _counts[i];
                cumulative[i] = running;
            }

            return new HistogramSnapshot(_bounds, cumulative, _sum, _count);
        }
    }
}
