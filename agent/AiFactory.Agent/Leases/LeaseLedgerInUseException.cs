namespace AiFactory.Agent.Leases;

/// <summary>
/// The lease ledger is open in a running agent (its journal is locked), so another process cannot know which
/// resources leases hold a moment from now: see <see cref="LeaseLedger.LoadReadOnly"/>.
/// </summary>
internal sealed class LeaseLedgerInUseException(string journal)
    : IOException($"the lease ledger {journal} is open in a running aifactory-agent, which grants and releases leases at any moment")
{
    /// <summary>The locked journal.</summary>
    public string Journal { get; } = journal;
}
