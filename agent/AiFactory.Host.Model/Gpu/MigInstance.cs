namespace AiFactory.Host.Model.Gpu;

/// <summary>A GPU instance that exists: its id, profile, placement and compute instances.</summary>
public sealed record MigInstance(uint GpuInstanceId, uint ProfileId, string Profile, MigPlacement Placement, IReadOnlyList<MigComputeInstance> ComputeInstances)
{
    /// <summary>A GPU instance without compute instances: left by a failed create, unusable.</summary>
    public bool IsOrphaned => ComputeInstances.Count == 0;
}

/// <summary>A compute instance inside a GPU instance.</summary>
public sealed record MigComputeInstance(uint Id, uint ProfileId, string Profile, uint Start, uint Size);
