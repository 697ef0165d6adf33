using System.Text.Json;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Planning.Mig;
using BenchmarkDotNet.Attributes;

namespace AiFactory.Benchmarks.Nvml;

/// <summary>Planning a full 8-GPU mixed MIG layout (goal: at most 1 ms), from the H100 80GB table the fake serves.</summary>
[MemoryDiagnoser]
public class MigPlanningBenchmarks
{
    private static readonly string[][] Layouts =
    [
        ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"],
        ["1g.10gb", "1g.10gb", "1g.10gb", "1g.10gb", "1g.10gb", "1g.10gb", "1g.10gb"],
        ["4g.40gb", "3g.40gb"],
        ["2g.20gb", "2g.20gb", "2g.20gb", "1g.10gb"],
        ["7g.80gb"],
        ["3g.40gb", "3g.40gb"],
        ["1g.20gb", "1g.20gb", "1g.20gb", "1g.20gb"],
        ["4g.40gb", "2g.20gb", "1g.10gb"],
    ];

    private MigProfileTable _table = null!;

    [GlobalSetup]
    public void Setup()
    {
        string path = Path.Combine(BenchmarkPaths.RepoRoot, "tests/fake-nvml/profiles/h100-80gb.json");
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
        _table = new MigProfileTable(doc.RootElement.GetProperty("gpuInstanceProfiles").EnumerateArray().Select(p => new MigProfile(
            p.GetProperty("id").GetUInt32(), p.GetProperty("name").GetString()!, p.GetProperty("sliceCount").GetUInt32(),
            p.GetProperty("memorySizeMB").GetUInt64(), p.GetProperty("instanceCount").GetUInt32(),
            [.. p.GetProperty("placements").EnumerateArray().Select(x => new MigPlacement(x[0].GetUInt32(), x[1].GetUInt32()))])).ToList());
    }

    [Benchmark(Description = "plan 8 GPUs, mixed layouts, 32 instances")]
    public int PlanEightGpus()
    {
        int created = 0;
        foreach (string[] layout in Layouts)
        {
            created += MigPlanner.Plan(_table, [], layout).Create.Count;
        }

        return created;
    }
}
