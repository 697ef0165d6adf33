using System.Diagnostics;
using System.Globalization;

namespace GrpcLoad;

/// <summary>
/// Each caller has one call at a time in flight and starts the next as soon as the previous returns, on the thread
/// that saw the answer. The callers keep the server saturated, so by Little's law the latency is about
/// callers ÷ throughput: this mode measures capacity.
/// </summary>
internal static class ClosedLoop
{
    public static async Task<string> RunAsync(IHealthClient client, string target, int callers, double warmup, double seconds)
    {
        long measureFrom = Stopwatch.GetTimestamp() + (long)(warmup * Stopwatch.Frequency);
        long stopAt = measureFrom + (long)(seconds * Stopwatch.Frequency);
        var run = new Run(client, callers, measureFrom, stopAt);
        run.StartAll();
        await run.AllDone.ConfigureAwait(false);
        long[] all = run.Samples();
        var latencies = new Latencies(all);
        return string.Create(CultureInfo.InvariantCulture,
            $"target={target}{client.LineFields} callers={callers} seconds={seconds} calls={all.Length} errors={run.Errors} throughput={all.Length / seconds:F0}/s {latencies} {Latencies.ClientCpu(run.Answered)}");
    }

    private sealed class Run
    {
        private readonly IHealthClient _client;
        private readonly long _measureFrom;
        private readonly long _stopAt;
        private readonly Caller[] _callers;
        private readonly TaskCompletionSource _allDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _running;
        private int _errors;
        private int _answered;

        public Run(IHealthClient client, int callers, long measureFrom, long stopAt)
        {
            _client = client;
            _measureFrom = measureFrom;
            _stopAt = stopAt;
            _running = callers;
            _callers = new Caller[callers];
            for (int c = 0; c < callers; c++)
            {
                _callers[c] = new Caller(this);
            }
        }

        public Task AllDone => _allDone.Task;

        public int Errors => Volatile.Read(ref _errors);

        /// <summary>Every answered call, warm-up included.</summary>
        public int Answered => Volatile.Read(ref _answered);

        public void StartAll()
        {
            foreach (Caller caller in _callers)
            {
                caller.Next();
            }
        }

        public long[] Samples() => _callers.SelectMany(c => c.Samples).ToArray();

        private sealed class Caller(Run run) : ICallSink
        {
            private long _start;

            public List<long> Samples { get; } = new(1 << 16);

            public void Next()
            {
                long now = Stopwatch.GetTimestamp();
                if (now >= run._stopAt)
                {
                    if (Interlocked.Decrement(ref run._running) == 0)
                    {
                        run._allDone.TrySetResult();
                    }

                    return;
                }

                _start = now;
                run._client.Start(this);
            }

            public void Completed(bool ok, long endTimestamp)
            {
                if (!ok)
                {
                    Interlocked.Increment(ref run._errors);
                }
                else
                {
                    Interlocked.Increment(ref run._answered);
                    if (_start >= run._measureFrom && endTimestamp <= run._stopAt)
                    {
                        Samples.Add(endTimestamp - _start);
                    }
                }

                Next();
            }
        }
    }
}
