namespace AiFactory.Host.Hardware.Configure;

/// <summary>The journal file's content (version 1).</summary>
/// <param name="Version">The format version.</param>
/// <param name="ApplyId">The apply this journal belongs to.</param>
/// <param name="Phase"><c>applying</c> until every step ran and was verified, then <c>complete</c>.</param>
/// <param name="Steps">The steps started so far.</param>
/// <param name="Checksum">SHA-256 (hex) of the document serialized with this field empty.</param>
public sealed record JournalDocument(int Version, string ApplyId, string Phase, IReadOnlyList<JournalStep> Steps, string Checksum);
