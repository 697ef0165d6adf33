namespace AiFactory.Host.Model.Gpu;

/// <summary>The MIG profiles one GPU offers, read from NVML (never written into the planner).</summary>
public sealed class MigProfileTable
{
    public MigProfileTable(IEnumerable<MigProfile> profiles)
    {
        Profiles = [.. profiles.OrderBy(p => p.SliceCount).ThenBy(p => p.MemoryMiB).ThenBy(p => p.Id)];
        ComputeSlices = Profiles.Count == 0 ? 0 : Profiles.Max(p => p.SliceCount);
        MemorySlices = Profiles.Count == 0 ? 0 : Profiles.SelectMany(p => p.Placements).Select(p => p.End).DefaultIfEmpty(0u).Max();
    }

    public IReadOnlyList<MigProfile> Profiles { get; }

    /// <summary>Compute slices of the whole GPU (the largest profile's).</summary>
    public uint ComputeSlices { get; }

    /// <summary>Memory slices of the whole GPU (the end of the furthest placement).</summary>
    public uint MemorySlices { get; }

    public MigProfile? Find(string name) =>
        Profiles.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    public MigProfile? Find(uint id) => Profiles.FirstOrDefault(p => p.Id == id);
}
