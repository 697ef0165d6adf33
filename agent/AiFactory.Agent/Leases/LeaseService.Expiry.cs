using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Leases;

/// <summary>
/// TTL expiry without a caller: one timer armed for the earliest expiry in the ledger (not a periodic poll). It
/// fires <see cref="ExpireDue"/> — the same path requests take — and re-arms for the next one; a grant with a TTL
/// re-arms it too. With no lease carrying a TTL it sleeps for good.
/// </summary>
internal sealed partial class LeaseService : IDisposable
{
    /// <summary>How long to wait before trying again when ending an expired lease failed (its devices would not unbind).</summary>
    internal static readonly TimeSpan ExpiryRetry = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The longest the timer is armed for at once. A timer takes at most 2^32 − 2 ms (49.7 days); a lease due later
    /// (TTLs go up to 100 years) is reached in steps: the timer wakes, finds nothing due and re-arms.
    /// </summary>
    internal static readonly TimeSpan LongestWait = TimeSpan.FromDays(30);

    private readonly Lock _expiryGate = new();
    private ITimer? _expiryTimer;
    private bool _disposed;

    /// <summary>Stops the expiry timer.</summary>
    public void Dispose()
    {
        lock (_expiryGate)
        {
            _disposed = true;
            _expiryTimer?.Dispose();
            _expiryTimer = null;
        }
    }

    /// <summary>Arms the timer for the earliest expiry of a holding lease (or disarms it when none has a TTL).</summary>
    /// <param name="passStart">When the expiry pass that ran just before began: a lease due before it is one that pass failed to end.</param>
    private void ScheduleExpiry(DateTimeOffset? passStart = null)
    {
        lock (_expiryGate)
        {
            if (_disposed)
            {
                return;
            }

            _expiryTimer ??= _time.CreateTimer(static s => ((LeaseService)s!).OnExpiryTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (_ledger.NextExpiry() is not { } next)
            {
                _expiryTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                return;
            }

            // Still due from before the last pass: that pass failed to end it; do not spin on it.
            TimeSpan due = next <= passStart ? ExpiryRetry : next - _time.GetUtcNow();
            _expiryTimer.Change(due < TimeSpan.Zero ? TimeSpan.Zero : due > LongestWait ? LongestWait : due, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnExpiryTimer()
    {
        DateTimeOffset passStart = _time.GetUtcNow();
        try
        {
            ExpireDue();
        }
#pragma warning disable CA1031 // A timer callback must not throw: that would end the daemon. Logged; retried later.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogExpiryFailed(_logger, ex.Message, ExpiryRetry);
        }

        ScheduleExpiry(passStart);
    }

    [LoggerMessage(EventId = EventIds.LeaseExpiryFailed, Level = LogLevel.Error, Message = "Ending an expired lease failed ({Reason}); trying again in {Retry}")]
    private static partial void LogExpiryFailed(ILogger logger, string reason, TimeSpan retry);
}
