using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Profile;

internal sealed partial class ProfileManager
{
    [LoggerMessage(EventId = EventIds.ProfileStep, Level = LogLevel.Information, Message = "Profile apply {ApplyId} step {Index} [{Kind}] {Description}: {Outcome} in {ElapsedMs:0.0} ms ({Detail})")]
    private static partial void LogStep(ILogger logger, string applyId, int index, string kind, string description, double elapsedMs, string outcome, string detail);

    [LoggerMessage(EventId = EventIds.ProfileApplied, Level = LogLevel.Information, Message = "Profile apply {ApplyId} ({Origin}): {Message}")]
    private static partial void LogApplied(ILogger logger, string applyId, string origin, string message);

    [LoggerMessage(EventId = EventIds.ProfileFailed, Level = LogLevel.Error, Message = "Profile apply {ApplyId} ({Origin}) failed at step {Index} ({Description}), file {File}, errno {Errno}: {Reason}; rolled back: {RolledBack}")]
    private static partial void LogFailed(ILogger logger, string applyId, string origin, int index, string description, string file, int errno, string reason, string rolledBack);

    [LoggerMessage(EventId = EventIds.ProfileRollbackFailed, Level = LogLevel.Critical, Message = "Profile apply {ApplyId}: the rollback failed, the node is half changed; journal kept at {Journal}, applies refused until `aifactory-agent profile recover` succeeds. Undone: {Errors}")]
    private static partial void LogRollbackFailed(ILogger logger, string applyId, string journal, string errors);

    [LoggerMessage(EventId = EventIds.ProfileStartWarning, Level = LogLevel.Warning, Message = "Profile at start ({Origin}): {Warning}")]
    private static partial void LogStartWarning(ILogger logger, string origin, string warning);

    [LoggerMessage(EventId = EventIds.ProfileStartStatus, Level = LogLevel.Information, Message = "Profile at start: {Status}")]
    private static partial void LogStartStatus(ILogger logger, string status);

    [LoggerMessage(EventId = EventIds.ProfileRefused, Level = LogLevel.Warning, Message = "Profile refused ({Origin}), nothing applied: {Errors}")]
    private static partial void LogRefused(ILogger logger, string origin, string errors);

    [LoggerMessage(EventId = EventIds.ProfileRecovered, Level = LogLevel.Warning, Message = "Profile journal recovery: {Message} ({Errors} inverse actions failed)")]
    private static partial void LogRecovered(ILogger logger, string message, int errors);

    [LoggerMessage(EventId = EventIds.ProfileJournalDamaged, Level = LogLevel.Critical, Message = "{Message}")]
    private static partial void LogJournalDamaged(ILogger logger, string message);

    [LoggerMessage(EventId = EventIds.ProfileDrift, Level = LogLevel.Warning, Message = "Profile drift: {Message}")]
    private static partial void LogDrift(ILogger logger, string message);

    [LoggerMessage(EventId = EventIds.ProfileFaultKill, Level = LogLevel.Warning, Message = "Fault injection: SIGKILL after profile step {Index}")]
    private static partial void LogFaultKill(ILogger logger, int index);
}
