using AiFactory.Host.Model.Gpu;

namespace AiFactory.Host.Planning.Mig;

/// <summary>A GPU instance to create: the profile and the explicit placement.</summary>
public sealed record MigCreate(MigProfile Profile, MigPlacement Placement)
{
    public override string ToString() => $"{Profile.Name}@{Placement}";
}

/// <summary>
/// The answer for one GPU: either the changes (instances kept, destroyed, created, in that order of application) or a
/// refusal with its reason.
/// </summary>
public sealed record MigPlan
{
    public IReadOnlyList<MigInstance> Keep { get; init; } = [];

    public IReadOnlyList<MigInstance> Destroy { get; init; } = [];

    public IReadOnlyList<MigCreate> Create { get; init; } = [];

    /// <summary>Length of the largest run of free memory slices the layout leaves.</summary>
    public uint LargestFreeRun { get; init; }

    /// <summary>Null when the plan can be applied; otherwise why not (the profile, its slots, what blocks them).</summary>
    public string? Refusal { get; init; }

    public bool IsRefused => Refusal is not null;

    /// <summary>True when the GPU already has the wanted layout.</summary>
    public bool IsNoChange => !IsRefused && Destroy.Count == 0 && Create.Count == 0;

    public static MigPlan Refuse(string reason) => new() { Refusal = reason };
}
