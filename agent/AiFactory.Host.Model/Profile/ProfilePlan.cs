namespace AiFactory.Host.Model.Profile;

/// <summary>
/// What applying a profile would do, from now: the steps in order (empty when the profile already holds),
/// warnings that do not stop it, or the validation errors that do.
/// </summary>
public sealed record ProfilePlan
{
    /// <summary>The steps, in the order they run.</summary>
    public IReadOnlyList<ProfileStep> Steps { get; init; } = [];

    /// <summary>Things the operator should know (reserved CPUs that are also isolated, ...).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Why the profile cannot be applied; non-empty means no steps.</summary>
    public IReadOnlyList<ProfileValidationError> Errors { get; init; } = [];

    /// <summary>
    /// The GPUs the plan would take from their driver to vfio-pci (checked against <see cref="ProfileCurrentState.GpuProcesses"/>),
    /// also when other fields refuse the profile: the agent asks NVML for running processes only when this is not empty.
    /// </summary>
    public IReadOnlyList<Pci.PciAddress> GpusUnbound { get; init; } = [];

    /// <summary>True when the profile is valid.</summary>
    public bool IsValid => Errors.Count == 0;

    /// <summary>True when the profile is valid and already holds.</summary>
    public bool IsNoOp => IsValid && Steps.Count == 0;
}
