using BenchmarkDotNet.Running;

namespace AiFactory.Benchmarks;

/// <summary>Runs the benchmark suites chosen by the command line (for example <c>--filter '*Discovery*'</c>).</summary>
public static class BenchmarkProgram
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
}
