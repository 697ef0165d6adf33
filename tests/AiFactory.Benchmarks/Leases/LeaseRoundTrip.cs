using System.Diagnostics;
using System.Globalization;
using AiFactory.Agent.Leases.Store;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc.Client;
using Grpc.Health.V1;

namespace AiFactory.Benchmarks.Leases;

/// <summary>
/// Lease + Release round trips through gRPC and the ledger against a running agent over its Unix socket (goal:
/// p99 ≤ 5 ms). Whole-process timing, not BenchmarkDotNet: each round trip is two unary calls and two fsync'd
/// checkpoint writes on the agent's side.
/// With <c>--state-dir</c> (the agent's state dir) it then times the two parts the round trip is made of, with the
/// same number of samples: two Health/Check unary calls (the gRPC transport), and two checkpoint writes of the
/// agent's own current <c>leases.checkpoint</c> bytes done the ledger's way (temp → fsync → rename → fsync(dir)) in
/// that directory, reporting the fsync time apart.
/// Run: <c>dotnet run -c Release --project tests/AiFactory.Benchmarks -- lease-roundtrip --socket PATH [--count N] [--state-dir DIR]</c>.
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
            Spec = new LeaseSpec { Owner = "bench", GpuCount = 1, Vcpus = 4, MemoryBytes = 4UL << 30, PageSize = LeasePageSize._1G },
        };
        double[] roundTrips = Measure(count, warmup, () =>
        {
            Lease lease = channel.UnaryAsync("/aifactory.agent.v1.Leases/Lease", request, Lease.Parser).GetAwaiter().GetResult();
            channel.UnaryAsync("/aifactory.agent.v1.Leases/Release", new ReleaseLeaseRequest { Id = lease.Id }, Lease.Parser).GetAwaiter().GetResult();
        });
        Console.WriteLine(Line($"lease+release round trips: {count} (after {warmup} warm-up)", roundTrips));
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

        byte[] bytes = File.ReadAllBytes(Path.Combine(stateDir, LeaseCheckpoint.FileName));
        string path = Path.Combine(stateDir, "bench.checkpoint");
        var fsync = new double[count];
        int i = -warmup;
        double[] writes = Measure(count, warmup, () =>
        {
            double synced = 0;
            for (int w = 0; w < 2; w++)
            {
                synced += WriteLikeTheLedger(stateDir, path, bytes);
            }

            if (i >= 0)
            {
                fsync[i] = synced;
            }

            i++;
        });
        File.Delete(path);
        Array.Sort(fsync);
        Console.WriteLine(Line(string.Create(CultureInfo.InvariantCulture, $"  part: 2 x checkpoint write ({bytes.Length} bytes, the agent's file now)"), writes));
        Console.WriteLine(Line("  of which fsync (file + directory)", fsync));
        return 0;
    }

    /// <summary>The ledger's write (<see cref="LeaseCheckpoint.Write"/>) step by step; returns the ms spent in fsync.</summary>
    private static double WriteLikeTheLedger(string directory, string path, byte[] bytes)
    {
        string temp = path + ".tmp";
        double synced;
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: false);
            long start = Stopwatch.GetTimestamp();
            stream.Flush(flushToDisk: true);
            synced = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        File.Move(temp, path, overwrite: true);
        long dir = Stopwatch.GetTimestamp();
        if (Interop.FsyncDirectory(directory) is int errno and not 0)
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"fsync of {directory} failed: errno {errno}"));
        }

        return synced + Stopwatch.GetElapsedTime(dir).TotalMilliseconds;
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
