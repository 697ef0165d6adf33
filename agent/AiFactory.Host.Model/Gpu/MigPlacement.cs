namespace AiFactory.Host.Model.Gpu;

/// <summary>Where a GPU instance sits: its first memory slice and how many it spans (nvmlGpuInstancePlacement_t).</summary>
public readonly record struct MigPlacement(uint Start, uint Size)
{
    /// <summary>One past the last memory slice.</summary>
    public uint End => Start + Size;

    public bool Overlaps(MigPlacement other) => Start < other.End && other.Start < End;

    /// <summary><c>start:size</c>, as nvidia-smi prints placements.</summary>
    public override string ToString() => $"{Start}:{Size}";
}
