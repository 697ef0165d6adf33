using System.Diagnostics;
using System.Globalization;

namespace GrpcLoad;

/// <summary>
/// Open loop at a fixed offered rate, as wrk2 does: call j is caller (j mod callers)'s call number (j div callers),
/// due at t0 + j/rate. A caller has at most one call in flight (so at most <c>callers</c> calls are in flight in
/// all): it starts each call at its due time, or, when its previous call is still out then, as soon as that one
/// returns. Latency is measured from the due time, not from when the call actually started, so a client or server
/// stall that holds back later calls counts against each of them (no coordinated omission).
/// </summary>
/// <remarks>
/// One dispatcher thread walks the schedule: it sleeps until the next due time (nanosleep with 1 ns timer slack,
/// no spinning: the client shares the cores with the server) and starts the call inline, up to its first await;
/// the rest of each call, and a caller's held-back calls, run on the thread that sees the answer (the thread pool
/// for the channel client, the connection's reader thread for the raw client). A call that starts more than
/// 1 ms after its due time is counted as late (the dispatcher or the caller's previous call held it back).
/// </remarks>
internal static class OpenLoop
{
    private static readonly long LateTicks = Stopwatch.Frequency / 1000;

    public static async Task<string> RunAsync(IHealthClient client, string target, int callers, double rate, double warmup, double seconds)
    {
        long frequency = Stopwatch.Frequency;
        long warmupCalls = (long)Math.Ceiling(warmup * rate);
        long measuredCalls = (long)Math.Floor(seconds * rate);
        long total = warmupCalls + measuredCalls;
        long t0 = Stopwatch.GetTimestamp() + (frequency / 100);
        long Due(long j) => t0 + (long)(j * (double)frequency / rate);
        var run = new Run(client, callers, warmupCalls, measuredCalls, Due);

        var dispatcher = new Thread(() =>
        {
            run.TimerSlackSet = Interop.SetTimerSlack(1);
            for (long j = 0; j < total; j++)
            {
                long due = Due(j);
                while (true)
                {
                    long ahead = due - Stopwatch.GetTimestamp();
                    if (ahead <= 0)
                    {
                        break;
                    }

                    Interop.SleepNanoseconds((long)(ahead * (1_000_000_000.0 / frequency)));
                }

                run.Release(j);
            }

            run.DispatchDone();
        })
        {
            IsBackground = true,
            Name = "grpc-load dispatcher",
        };
        dispatcher.Start();

        // Calls still out 30 s after the last one was due are reported as unfinished rather than waited for.
        bool finished = await run.AllDone.WaitAsync(TimeSpan.FromSeconds(seconds + warmup + 30)).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default).ConfigureAwait(false);
        return run.Report(target, client.LineFields, callers, rate, seconds, finished);
    }

    /// <summary>One caller's place in the schedule (guarded by locking the instance) and its call in flight.</summary>
    private sealed class Caller(Run run, int index) : ICallSink
    {
        public int Index { get; } = index;

        /// <summary>The number of this caller's calls started so far (the next one's number).</summary>
        public long Next { get; set; }

        /// <summary>The number of this caller's calls that have come due.</summary>
        public long Released { get; set; }

        /// <summary>A call of this caller is in flight.</summary>
        public bool Busy { get; set; }

        /// <summary>The schedule number of the call in flight.</summary>
        public long J { get; set; }

        /// <summary>When the call in flight was started (Stopwatch timestamp).</summary>
        public long Start { get; set; }

        public void Completed(bool ok, long endTimestamp) => run.Completed(this, ok, endTimestamp);
    }

    private sealed class Run
    {
        private readonly IHealthClient _client;
        private readonly long _warmupCalls;
        private readonly long _measuredCalls;
        private readonly Func<long, long> _dueTime;
        private readonly Caller[] _callers;
        private readonly long[] _latency;
        private readonly long[] _lag;
        private readonly TaskCompletionSource _allDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _pending = 1; // the dispatcher's own hold, released by DispatchDone
        private int _completed;
        private int _errors;
        private int _late;
        private long _maxLate;
        private long _lastEnd;
        private int _answeredAll;

        public Run(IHealthClient client, int callers, long warmupCalls, long measuredCalls, Func<long, long> dueTime)
        {
            _client = client;
            _warmupCalls = warmupCalls;
            _measuredCalls = measuredCalls;
            _dueTime = dueTime;
            _callers = new Caller[callers];
            for (int i = 0; i < callers; i++)
            {
                _callers[i] = new Caller(this, i);
            }

            _latency = new long[measuredCalls];
            _lag = new long[measuredCalls];
        }

        public bool TimerSlackSet { get; set; }

        public Task AllDone => _allDone.Task;

        public void Release(long j)
        {
            // Call j is due now: its caller starts it unless its previous call is still out.
            Caller caller = _callers[(int)(j % _callers.Length)];
            Interlocked.Increment(ref _pending);
            lock (caller)
            {
                caller.Released++;
                if (caller.Busy)
                {
                    return;
                }

                caller.Busy = true;
            }

            StartNext(caller);
        }

        public void DispatchDone() => Done();

        /// <summary>Starts the caller's next call (it is Busy): inline, on the dispatcher's or the answering thread.</summary>
        private void StartNext(Caller caller)
        {
            caller.J = (caller.Next++ * _callers.Length) + caller.Index;
            caller.Start = Stopwatch.GetTimestamp();
            _client.Start(caller);
        }

        public void Completed(Caller caller, bool ok, long end)
        {
            long j = caller.J;
            long due = _dueTime(j);
            long start = caller.Start;
            long index = j - _warmupCalls;
            if (ok)
            {
                Interlocked.Increment(ref _answeredAll);
                if (index >= 0)
                {
                    _latency[index] = end - due;
                    Interlocked.Increment(ref _completed);
                    long late = start - due;
                    _lag[index] = Math.Max(0, late);
                    InterlockedMax(ref _lastEnd, end);
                    if (late > LateTicks)
                    {
                        Interlocked.Increment(ref _late);
                    }

                    InterlockedMax(ref _maxLate, late);
                }
            }
            else if (index >= 0)
            {
                _latency[index] = -1;
                Interlocked.Increment(ref _errors);
            }

            Done();
            lock (caller)
            {
                if (caller.Next == caller.Released)
                {
                    caller.Busy = false;
                    return;
                }
            }

            StartNext(caller);
        }

        private void Done()
        {
            if (Interlocked.Decrement(ref _pending) == 0)
            {
                _allDone.TrySetResult();
            }
        }

        /// <summary>
        /// The report line. achieved is the answered calls of the measured window over the time from the window's
        /// first due time to the last answer: below the offered rate when the calls fell behind.
        /// </summary>
        public string Report(string target, string lineFields, int callers, double rate, double seconds, bool finished)
        {
            double span = Math.Max(seconds, (Volatile.Read(ref _lastEnd) - _dueTime(_warmupCalls)) / (double)Stopwatch.Frequency);
            // Unfinished calls (finished == false) still hold 0 in their slot: only answered calls are counted.
            long[] answered = Array.FindAll(_latency, l => l > 0);
            var latencies = new Latencies(answered);
            long[] lags = new long[answered.Length];
            for (int i = 0, n = 0; i < _latency.Length; i++)
            {
                if (_latency[i] > 0)
                {
                    lags[n++] = _lag[i];
                }
            }

            var lag = new Latencies(lags);
            long unfinished = finished ? 0 : _measuredCalls - Volatile.Read(ref _completed) - Volatile.Read(ref _errors);
            return string.Create(CultureInfo.InvariantCulture, 
                $"target={target}{lineFields} callers={callers} seconds={seconds} rate={rate:F0}/s calls={answered.Length} errors={_errors} unfinished={unfinished} " +
                $"achieved={answered.Length / span:F0}/s {latencies} start_lag p50={lag.Quantile(0.5):F0}us p99={lag.Quantile(0.99):F0}us" +
                $" late>1ms={_late} max_late={Latencies.Us(Math.Max(0, _maxLate)):F0}us" +
                $" {Latencies.ClientCpu(_answeredAll)}{(TimerSlackSet ? string.Empty : " timer_slack=default")}");
        }

        private static void InterlockedMax(ref long target, long value)
        {
            long current = Volatile.Read(ref target);
            while (value > current)
            {
                long seen = Interlocked.CompareExchange(ref target, value, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }
    }
}
