using System.Text.Json;
using AiFactory.Host.Model.Gpu;

namespace AiFactory.Gpu.Tests;

/// <summary>The MIG profile tables the fake libnvidia-ml serves (tests/fake-nvml/profiles), loaded for planner tests.</summary>
internal static class Profiles
{
    public static string RepoRoot { get; } = FindRoot();

    public static MigProfileTable Load(string name)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoRoot, "tests/fake-nvml/profiles", name + ".json")));
        var profiles = new List<MigProfile>();
        foreach (JsonElement p in doc.RootElement.GetProperty("gpuInstanceProfiles").EnumerateArray())
        {
            profiles.Add(new MigProfile(
                p.GetProperty("id").GetUInt32(),
                p.GetProperty("name").GetString()!,
                p.GetProperty("sliceCount").GetUInt32(),
                p.GetProperty("memorySizeMB").GetUInt64(),
                p.GetProperty("instanceCount").GetUInt32(),
                [.. p.GetProperty("placements").EnumerateArray().Select(x => new MigPlacement(x[0].GetUInt32(), x[1].GetUInt32()))]));
        }

        return new MigProfileTable(profiles);
    }

    /// <summary>The plain (no +me, not the double-memory 1g) profile of a slice count in a table.</summary>
    public static string BySlices(MigProfileTable table, uint slices) =>
        table.Profiles.Where(p => p.SliceCount == slices && !p.Name.Contains('+', StringComparison.Ordinal)).OrderBy(p => p.MemoryMiB).First().Name;

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "AiFactory.Agent.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}
