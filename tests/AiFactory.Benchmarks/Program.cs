using BenchmarkDotNet.Running;

namespace AiFactory.Benchmarks;

/// <summary>Runs the benchmark suites chosen by the command line (for example <c>--filter '*Discovery*'</c>).</summary>
public static class BenchmarkProgram
{
    public static void Main(string[] args)
    {
        // Whole-process timings against a running agent (not BenchmarkDotNet): one line each.
        if (args.Length > 0 && args[0] == "lease-roundtrip")
        {
            Environment.Exit(Leases.LeaseRoundTrip.Run(args));
        }

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
    }
}
