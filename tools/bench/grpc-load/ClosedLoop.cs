using System.Diagnostics;
using System.Globalization;
using AiFactory.Grpc;

namespace GrpcLoad;

/// <summary>
/// Each caller awaits one call at a time and issues the next as soon as the previous returns. The callers keep
/// the server saturated, so by Little's law the latency is about callers ÷ throughput: this mode measures capacity.
/// </summary>
internal static class ClosedLoop
{
    public static async Task<string> RunAsync(HealthCheck check, string target, int callers, double warmup, double seconds)
    {
        long measureFrom = Stopwatch.GetTimestamp() + (long)(warmup * Stopwatch.Frequency);
        long stopAt = measureFrom + (long)(seconds * Stopwatch.Frequency);
        var perCaller = new List<long>[callers];
        int errors = 0;
        int answered = 0;
        var tasks = new Task[callers];
        for (int c = 0; c < callers; c++)
        {
            var samples = perCaller[c] = new List<long>(1 << 16);
            tasks[c] = Task.Run(async () =>
            {
                while (true)
                {
                    long start = Stopwatch.GetTimestamp();
                    if (start >= stopAt)
                    {
                        return;
                    }

                    try
                    {
                        await check.CallAsync().ConfigureAwait(false);
                    }
                    catch (RpcException)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }

                    long end = Stopwatch.GetTimestamp();
                    Interlocked.Increment(ref answered);
                    if (start >= measureFrom && end <= stopAt)
                    {
                        samples.Add(end - start);
                    }
                }
            });
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        long[] all = perCaller.SelectMany(s => s).ToArray();
        var latencies = new Latencies(all);
        return string.Create(CultureInfo.InvariantCulture, 
            $"target={target} callers={callers} seconds={seconds} calls={all.Length} errors={errors} throughput={all.Length / seconds:F0}/s {latencies} {Latencies.ClientCpu(answered)}");
    }
}
