namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// An earlier apply's rollback failed and its journal is kept (phase <c>rollback-failed</c>): no apply runs until a
/// recovery has run every inverse action, since a new apply would start from a half-changed node and its journal
/// would replace the only record of what is left to undo.
/// </summary>
public sealed class RollbackPendingException : IOException
{
    /// <summary>Creates the exception from the journal, its apply and the inverse actions that failed.</summary>
    public RollbackPendingException(string journalPath, string applyId, IReadOnlyList<string> failed)
        : base($"the rollback of profile apply {applyId} failed and its journal {journalPath} is kept; undone: {(failed.Count == 0 ? "(not recorded)" : string.Join("; ", failed))}. " +
               "Nothing applied: fix the cause, then run `aifactory-agent profile recover` (or restart the agent) until it succeeds")
    {
        JournalPath = journalPath;
        Failed = failed;
    }

    /// <summary>The journal kept.</summary>
    public string JournalPath { get; }

    /// <summary>The inverse actions that failed, with why.</summary>
    public IReadOnlyList<string> Failed { get; }
}
