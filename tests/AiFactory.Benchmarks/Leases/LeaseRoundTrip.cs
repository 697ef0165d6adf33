using System.Diagnostics;
using System.Globalization;
using AiFactory.Agent.Leases.Store;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc.Client;
using AiFactory.Host.Hardware.Configure;
using Google.Protobuf;
using Grpc.Health.V1;

namespace AiFactory.Benchmarks.Leases;

/// <summary>
/// Lease + Release round trips through gRPC and the ledger against a running agent over its Unix socket (goal:
/// p99 ≤ 5 ms). Whole-process timing, not BenchmarkDotNet: each round trip is two unary calls and two durable journal
/// appends (one write + fdatasync each) on the agent's side, plus a checkpoint rewrite every 8192 records (compaction).
/// With <c>--state-dir</c> (the agent's state dir) it then times the two parts the round trip is made of, with the
/// same number of samples: two Health/Check unary calls (the gRPC transport), and two journal appends done the
/// ledger's way (<see cref="LeaseJournal"/>: one write of a framed record, then fdatasync) to a scratch journal in that
/// directory, of a record the size of the agent's own most recent one (its newest lease in <c>leases.checkpoint</c>,
/// as a put record), reporting the fdatasync time apart. That part leaves compaction out; the round trip has it.
/// Run: <c>dotnet run -c Release --project tests/AiFactory.Benchmarks -- lease-roundtrip --socket PATH [--count N] [--state-dir DIR] [--wait blocking]</c>.
/// </summary>
public static class LeaseRoundTrip
{
    public static int Run(string[] args)
    {
        string socket = Arg(args, "--socket") ?? "/run/aifactory/agent.sock";
        int count = int.Parse(Arg(args, "--count") ?? "2000", CultureInfo.InvariantCulture);
        int warmup = int.Parse(Arg(args, "--warmup") ?? "200", CultureInfo.InvariantCulture);
        string? stateDir = Arg(args, "--state-dir");
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(socket);
        var request = new CreateLeaseRequest
        {
            // Emulator threads isolated: the fixture agent runs without a node profile, so no CPUs are reserved to share.
            Spec = new LeaseSpec { Owner = "bench", GpuCount = 1, Vcpus = 4, MemoryBytes = 4UL << 30, PageSize = LeasePageSize._1G, EmulatorThreads = EmulatorThreadPolicy.Isolate },
        };
        // By default the loop awaits each call, so the thread that reads a response goes straight on to the next
        // request; "--wait blocking" parks the main thread on each call instead, which costs one more thread wake-up
        // per call on the machine the agent shares (the way this benchmark ran until the fourth session).
        bool blocking = Arg(args, "--wait") == "blocking";
        double[] roundTrips = blocking
            ? Measure(count, warmup, () =>
            {
                Lease lease = channel.UnaryAsync("/aifactory.agent.v1.Leases/Lease", request, Lease.Parser).GetAwaiter().GetResult();
                channel.UnaryAsync("/aifactory.agent.v1.Leases/Release", new ReleaseLeaseRequest { Id = lease.Id }, Lease.Parser).GetAwaiter().GetResult();
            })
            : MeasureAsync(count, warmup, async () =>
            {
                Lease lease = await channel.UnaryAsync("/aifactory.agent.v1.Leases/Lease", request, Lease.Parser).ConfigureAwait(false);
                await channel.UnaryAsync("/aifactory.agent.v1.Leases/Release", new ReleaseLeaseRequest { Id = lease.Id }, Lease.Parser).ConfigureAwait(false);
            }).GetAwaiter().GetResult();
        Console.WriteLine(Line($"lease+release round trips: {count} (after {warmup} warm-up)", roundTrips)
            + string.Create(CultureInfo.InvariantCulture, $"  over 5 ms {roundTrips.Count(t => t > 5)}"));
        if (stateDir is null)
        {
            return 0;
        }

        var health = new HealthCheckRequest();
        double[] unary = Measure(count, warmup, () =>
        {
            channel.UnaryAsync("/grpc.health.v1.Health/Check", health, HealthCheckResponse.Parser).GetAwaiter().GetResult();
            channel.UnaryAsync("/grpc.health.v1.Health/Check", health, HealthCheckResponse.Parser).GetAwaiter().GetResult();
        });
        Console.WriteLine(Line("  part: 2 x Health/Check unary (gRPC transport only)", unary));

        // The record the ledger would append for the agent's newest lease: a put of its whole record, framed.
        Lease newest = LeaseCheckpoint.Decode(File.ReadAllBytes(Path.Combine(stateDir, LeaseCheckpoint.FileName))).Leases
            .MaxBy(l => (l.CreatedUnixMs, l.EndedUnixMs)) ?? throw new InvalidOperationException($"no lease in {stateDir}/{LeaseCheckpoint.FileName}: run the round trips first");
        byte[] frame = LeaseJournal.Frame(LeaseJournal.PutPayload(newest.ToByteString()));
        string path = Path.Combine(stateDir, "bench.journal");
        var fdatasync = new double[count];
        int i = -warmup;
        double[] appends;
        using (var journal = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 0, FileOptions.None))
        {
            journal.Write(LeaseJournal.Header(1));
            journal.Flush(flushToDisk: true);
            appends = Measure(count, warmup, () =>
            {
                double synced = 0;
                for (int w = 0; w < 2; w++)
                {
                    synced += AppendLikeTheLedger(journal, frame);
                }

                if (i >= 0)
                {
                    fdatasync[i] = synced;
                }

                i++;
            });
        }

        File.Delete(path);
        Array.Sort(fdatasync);
        Console.WriteLine(Line(string.Create(CultureInfo.InvariantCulture, $"  part: 2 x journal append ({frame.Length}-byte record, the agent's newest lease)"), appends));
        Console.WriteLine(Line("  of which fdatasync", fdatasync));
        return 0;
    }

    /// <summary>The ledger's append (<see cref="LeaseJournal.Append"/>) step by step; returns the ms spent in fdatasync.</summary>
    private static double AppendLikeTheLedger(FileStream journal, byte[] frame)
    {
        journal.Write(frame);
        long start = Stopwatch.GetTimestamp();
        DurableFile.SyncData(journal.SafeFileHandle, journal.Name);

        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static async Task<double[]> MeasureAsync(int count, int warmup, Func<Task> once)
    {
        var samples = new double[count];
        for (int i = -warmup; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await once().ConfigureAwait(false);
            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }

        Array.Sort(samples);
        return samples;
    }

    private static double[] Measure(int count, int warmup, Action once)
    {
        var samples = new double[count];
        for (int i = -warmup; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            once();
            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }

        Array.Sort(samples);
        return samples;
    }

    private static string Line(string what, double[] sorted)
    {
        int n = sorted.Length;
        double P(double q) => sorted[Math.Min(n - 1, (int)Math.Ceiling(q * n) - 1)];
        return string.Create(CultureInfo.InvariantCulture, $"{what}  p50 {P(0.50):F3} ms  p90 {P(0.90):F3} ms  p99 {P(0.99):F3} ms  max {sorted[^1]:F3} ms");
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
