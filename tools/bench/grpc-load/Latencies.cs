using System.Diagnostics;
using System.Globalization;

namespace GrpcLoad;

/// <summary>Percentiles of a set of latencies in Stopwatch ticks, printed in microseconds.</summary>
internal sealed class Latencies
{
    private readonly long[] _sorted;

    public Latencies(long[] ticks)
    {
        _sorted = ticks;
        Array.Sort(_sorted);
    }

    public int Count => _sorted.Length;

    /// <summary>The q-quantile in microseconds (nearest rank); NaN when there are no samples.</summary>
    public double Quantile(double q) =>
        _sorted.Length == 0 ? double.NaN : Us(_sorted[Math.Min(_sorted.Length - 1, (int)(q * _sorted.Length))]);

    public double Max => _sorted.Length == 0 ? 0 : Us(_sorted[^1]);

    public static double Us(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    /// <summary>
    /// all_calls (every answered call, warm-up included) and this process's CPU time (user + system) per answered
    /// call, so that the server's CPU per call can be worked out from its own CPU time over the run.
    /// </summary>
    public static string ClientCpu(int allCalls) => string.Create(CultureInfo.InvariantCulture,
        $"all_calls={allCalls} client_cpu={(allCalls == 0 ? 0 : Environment.CpuUsage.TotalTime.TotalMicroseconds / allCalls):F1}us/call");

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, 
        $"p50={Quantile(0.50):F0}us p90={Quantile(0.90):F0}us p99={Quantile(0.99):F0}us p99.9={Quantile(0.999):F0}us max={Max:F0}us");
}
