namespace AiFactory.Host.Hardware.Configure;

/// <summary>What an apply did: each step's outcome and time, the failure if any, and the rollback.</summary>
public sealed record ApplyReport
{
    /// <summary>True when every step ran and was verified.</summary>
    public required bool Succeeded { get; init; }

    /// <summary>The steps that ran (or failed), in order.</summary>
    public required IReadOnlyList<StepOutcome> Steps { get; init; }

    /// <summary>The failure: step, file and errno, when one failed.</summary>
    public StepFailure? Failure { get; init; }

    /// <summary>The inverse actions run after a failure, with their result.</summary>
    public IReadOnlyList<string> RolledBack { get; init; } = [];

    /// <summary>
    /// The inverse actions that failed during the rollback, with why: empty when everything this apply changed was
    /// put back. Non-empty means the node is half changed and <see cref="JournalKept"/> names the journal.
    /// </summary>
    public IReadOnlyList<string> RollbackErrors { get; init; } = [];

    /// <summary>The journal kept (phase <c>rollback-failed</c>) when the rollback failed; null otherwise.</summary>
    public string? JournalKept { get; init; }

    /// <summary>Kernel attribute writes made (sysfs and procfs).</summary>
    public int Writes { get; init; }
}

/// <summary>One step's outcome.</summary>
/// <param name="Index">The position in the plan.</param>
/// <param name="Kind">bind, vfs, hugepages, cpus, service, module, check.</param>
/// <param name="Description">What it changed.</param>
/// <param name="Elapsed">How long it took.</param>
/// <param name="Ok">True when it was verified.</param>
/// <param name="Detail">What was read back, or why it failed.</param>
public sealed record StepOutcome(int Index, string Kind, string Description, TimeSpan Elapsed, bool Ok, string Detail);

/// <summary>Why an apply stopped.</summary>
/// <param name="Index">The step.</param>
/// <param name="Description">The step's description.</param>
/// <param name="File">The kernel file written, when the failure was a write.</param>
/// <param name="Errno">The errno, when the kernel gave one.</param>
/// <param name="Message">The whole reason.</param>
public sealed record StepFailure(int Index, string Description, string? File, int? Errno, string Message);
