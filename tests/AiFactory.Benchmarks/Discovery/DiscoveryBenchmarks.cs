using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Model.Topology;
using BenchmarkDotNet.Attributes;

namespace AiFactory.Benchmarks.Discovery;

/// <summary>
/// Full discovery of the dgx-h100 fixture (goal: median ≤ 10 ms) and the cheap no-change check a rescan does first
/// (goal: almost no allocation). Run: dotnet run -c Release --project tests/AiFactory.Benchmarks -- --filter '*DiscoveryBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class DiscoveryBenchmarks
{
    private string _root = string.Empty;
    private HostDiscovery _discovery = null!;

    [GlobalSetup]
    public void Setup()
    {
        string dir = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(dir, "hardware-fixtures")))
        {
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("hardware-fixtures/ not found");
        }

        _root = Path.Combine(Path.GetTempPath(), "aifactory-bench-dgx-h100-" + Environment.ProcessId);
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, true);
        }

        TextArchive.Extract(Path.Combine(dir, "hardware-fixtures", "dgx-h100.ttar"), _root);
        _discovery = new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc"));
        _discovery.Discover();
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_root, true);

    /// <summary>Everything: CPUs, nodes, PCI functions, IOMMU groups, net devices, hugepages, procfs.</summary>
    [Benchmark]
    public HostTopology FullDiscoveryDgxH100() => new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc")).Discover();

    /// <summary>The same on one thread (as before discovery read on several), for comparison.</summary>
    [Benchmark]
    public HostTopology FullDiscoveryDgxH100OneThread() =>
        new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc")) { ReadThreads = 1 }.Discover();

    /// <summary>What a periodic rescan costs when nothing changed: re-read and hash the files last read.</summary>
    [Benchmark]
    public bool NoChangeRescanDgxH100() => _discovery.HasChanged();
}
