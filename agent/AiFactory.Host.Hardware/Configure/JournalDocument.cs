namespace AiFactory.Host.Hardware.Configure;

/// <summary>The journal file's content (version 1).</summary>
/// <param name="Version">The format version.</param>
/// <param name="ApplyId">The apply this journal belongs to.</param>
/// <param name="Phase"><c>applying</c> until every step ran and was verified, then <c>complete</c>; <c>rollback-failed</c>
/// when a rollback left inverse actions undone (then <paramref name="Steps"/> holds only those, kept until a recovery runs them).</param>
/// <param name="Steps">The steps started so far.</param>
/// <param name="Checksum">SHA-256 (hex) of the document serialized with this field empty.</param>
/// <param name="RollbackErrors">In phase <c>rollback-failed</c>: the inverse actions that failed, with why; absent otherwise
/// (so journals written before the field existed keep their checksum).</param>
public sealed record JournalDocument(int Version, string ApplyId, string Phase, IReadOnlyList<JournalStep> Steps, string Checksum, IReadOnlyList<string>? RollbackErrors = null);
