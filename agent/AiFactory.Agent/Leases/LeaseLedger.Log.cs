using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Leases;

internal sealed partial class LeaseLedger
{
    [LoggerMessage(EventId = EventIds.LeaseLedgerLoaded, Level = LogLevel.Information, Message = "Lease ledger {Path}: {Holding} holding lease(s), {Total} record(s), {Replayed} journal record(s) replayed")]
    private static partial void LogLedgerLoaded(ILogger logger, string path, int holding, int total, int replayed);

    [LoggerMessage(EventId = EventIds.LeaseLedgerEmpty, Level = LogLevel.Information, Message = "Lease ledger {Path} does not exist yet: starting empty")]
    private static partial void LogLedgerEmpty(ILogger logger, string path);

    [LoggerMessage(EventId = EventIds.LeaseLedgerSetAside, Level = LogLevel.Error, Message = "Lease ledger {Path} is unreadable ({Reason}); moved it to {Aside} and started with an EMPTY ledger. Resources it recorded are not reserved now: compare running VMs with 'aifactoryctl lease show --all' (and the set-aside file) and re-create their leases")]
    private static partial void LogLedgerSetAside(ILogger logger, string path, string reason, string aside);

    [LoggerMessage(EventId = EventIds.LeaseJournalSetAside, Level = LogLevel.Error, Message = "Lease journal {Path} is unreadable ({Reason}); moved it to {Aside} and loaded the checkpoint {Checkpoint} alone ({Holding} holding lease(s)): changes recorded after that checkpoint are lost, so compare running VMs with 'aifactoryctl lease show --all' (and the set-aside file)")]
    private static partial void LogJournalSetAside(ILogger logger, string path, string reason, string aside, string checkpoint, int holding);

    [LoggerMessage(EventId = EventIds.LeaseLedgerUnacknowledged, Level = LogLevel.Error, Message = "Lease ledger: {Why}")]
    private static partial void LogUnacknowledged(ILogger logger, string why);

    [LoggerMessage(EventId = EventIds.LeaseJournalTornTail, Level = LogLevel.Warning, Message = "Lease journal {Path} ends in {Tail}: an append cut off by a crash, never acknowledged; truncated it at offset {Offset}, keeping the {Records} record(s) before it")]
    private static partial void LogJournalTornTail(ILogger logger, string path, string tail, long offset, int records);

    [LoggerMessage(EventId = EventIds.LeaseLedgerCompactionFailed, Level = LogLevel.Warning, Message = "Lease ledger {Path}: could not compact ({Reason}); the next change writes the whole checkpoint instead of appending, and fails if that fails too")]
    private static partial void LogCompactionFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = EventIds.LeaseGrantDropNotStored, Level = LogLevel.Warning, Message = "Lease {Id}: binding failed and its reservation was dropped, but {Path} could not record that ({Reason}); the next change rewrites the whole checkpoint without it")]
    private static partial void LogAbandonNotStored(ILogger logger, string id, string path, string reason);
}
