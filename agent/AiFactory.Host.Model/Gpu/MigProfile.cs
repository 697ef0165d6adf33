namespace AiFactory.Host.Model.Gpu;

/// <summary>
/// One GPU instance profile as the GPU reports it through NVML: id, name (<c>3g.40gb</c>), compute slices, memory,
/// how many instances may exist at once, and the placements the hardware allows.
/// </summary>
public sealed record MigProfile(uint Id, string Name, uint SliceCount, ulong MemoryMiB, uint InstanceCount, IReadOnlyList<MigPlacement> Placements)
{
    /// <summary>Memory slices one instance spans (every placement of a profile has the same size).</summary>
    public uint MemorySlices => Placements.Count == 0 ? 0 : Placements[0].Size;
}
