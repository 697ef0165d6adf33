using System.Diagnostics;
using System.Globalization;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc.Client;

namespace AiFactory.Benchmarks.Leases;

/// <summary>
/// Lease + Release round trips through gRPC and the ledger against a running agent over its Unix socket (goal:
/// p99 ≤ 5 ms). Whole-process timing, not BenchmarkDotNet: each round trip is two unary calls and two fsync'd
/// checkpoint writes on the agent's side.
/// Run: <c>dotnet run -c Release --project tests/AiFactory.Benchmarks -- lease-roundtrip --socket PATH [--count N]</c>.
/// </summary>
public static class LeaseRoundTrip
{
    public static int Run(string[] args)
    {
        string socket = Arg(args, "--socket") ?? "/run/aifactory/agent.sock";
        int count = int.Parse(Arg(args, "--count") ?? "2000", CultureInfo.InvariantCulture);
        int warmup = int.Parse(Arg(args, "--warmup") ?? "200", CultureInfo.InvariantCulture);
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(socket);
        var request = new CreateLeaseRequest
        {
            Spec = new LeaseSpec { Owner = "bench", GpuCount = 1, Vcpus = 4, MemoryBytes = 4UL << 30, PageSize = LeasePageSize._1G },
        };
        var samples = new double[count];
        for (int i = -warmup; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Lease lease = channel.UnaryAsync("/aifactory.agent.v1.Leases/Lease", request, Lease.Parser).GetAwaiter().GetResult();
            channel.UnaryAsync("/aifactory.agent.v1.Leases/Release", new ReleaseLeaseRequest { Id = lease.Id }, Lease.Parser).GetAwaiter().GetResult();
            if (i >= 0)
            {
                samples[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }

        Array.Sort(samples);
        double P(double q) => samples[Math.Min(count - 1, (int)Math.Ceiling(q * count) - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"lease+release round trips: {count} (after {warmup} warm-up)  p50 {P(0.50):F3} ms  p90 {P(0.90):F3} ms  p99 {P(0.99):F3} ms  max {samples[^1]:F3} ms"));
        return 0;
    }

    private static string? Arg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
