namespace AiFactory.Host.Hardware.Configure;

/// <summary>What recovery at start found and did.</summary>
/// <param name="Found">True when a journal was left by an earlier run.</param>
/// <param name="Phase">The journal's phase (applying, complete), when found.</param>
/// <param name="ApplyId">The interrupted apply.</param>
/// <param name="RolledBack">The inverse actions run, with their result.</param>
/// <param name="Errors">Inverse actions that failed (the device is left as it is and named here); the journal is then
/// kept, in phase <c>rollback-failed</c>, and applies are refused until a recovery succeeds.</param>
public sealed record RecoveryReport(bool Found, string? Phase, string? ApplyId, IReadOnlyList<string> RolledBack, IReadOnlyList<string> Errors)
{
    /// <summary>Nothing to recover.</summary>
    public static readonly RecoveryReport None = new(false, null, null, [], []);
}
