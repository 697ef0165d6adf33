using AiFactory.Grpc;
using AiFactory.Host.Hardware.Files;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The exclusion between node-profile applies and lease grants. In the agent: the <see cref="ProfileApplyGate"/> the
/// profile manager holds for an apply (<see cref="HoldGrants"/>), checked under the ledger lock right before a grant
/// is recorded. Across processes: the owner lock, <c>leases.lock</c> in the state dir, which the agent holds shared
/// from <see cref="Load"/> on (also with an empty ledger) and the offline <c>aifactory-agent profile apply</c> holds
/// exclusive for its apply (<see cref="StoredLeaseHolds.HoldGrants"/>): beside a running agent the offline command
/// cannot take it and plans with the holds unknown, and an agent that could not take it (it started during an offline
/// apply) refuses grants until it can. The owner lock is a flock(2) taken directly (<see cref="FileLock"/>), never
/// .NET's FileStream lock, which DOTNET_SYSTEM_IO_DISABLEFILELOCKING=1 would silently turn off.
/// </summary>
internal sealed partial class LeaseLedger
{
    /// <summary>The owner lock's file name in the state dir.</summary>
    internal const string OwnerLockFileName = "leases.lock";

    private FileLock? _ownerLock;

    /// <summary>The gate a profile apply closes.</summary>
    internal ProfileApplyGate ProfileGate { get; } = new();

    /// <summary>
    /// How long a grant stopped by a profile apply waits for it to end (or to narrow to what it changes) before it is
    /// refused with UNAVAILABLE. Short: the grant's thread waits, and an apply's slow steps (VFs, compaction) take longer.
    /// </summary>
    internal TimeSpan ProfileApplyWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Where the owner lock lives.</summary>
    public string OwnerLockPath => System.IO.Path.Combine(_directory, OwnerLockFileName);

    /// <summary>
    /// Closes the gate for a profile apply. Under the ledger lock: a grant recorded before it is in
    /// <see cref="HeldResources"/> afterwards, and none recorded after it touches what the apply changes.
    /// </summary>
    public IProfileApplyHold HoldGrants(string origin)
    {
        lock (_gate)
        {
            ProfileGate.Close(origin, _time.GetUtcNow());
        }

        return new GateHold(ProfileGate);
    }

    /// <summary>
    /// Takes the owner lock (shared) when this ledger does not hold it yet; false only while another open of it holds
    /// it exclusive (an offline apply), or when something other than a regular file is in its place
    /// (<paramref name="why"/> says so, naming it). A lock file that cannot be made or opened at all (a read-only or
    /// missing state dir: the ledger's own writes say so) stops nothing. Taken with flock(2) directly
    /// (<see cref="FileLock"/>), so DOTNET_SYSTEM_IO_DISABLEFILELOCKING cannot turn it off.
    /// </summary>
    private bool TakeOwnerLock(out string? why)
    {
        why = null;
        if (_ownerLock is not null)
        {
            return true;
        }

        FileLock? opened = null;
        try
        {
            Directory.CreateDirectory(_directory);
            opened = FileLock.Open(OwnerLockPath, create: true)!;
            if (!opened.TryLock(exclusive: false))
            {
                opened.Dispose();
                return false;
            }

            _ownerLock = opened;
            return true;
        }
        catch (IOException ex) when (opened is null && FileIdentity.OfPath(OwnerLockPath) is { IsRegularFile: false })
        {
            why = $"{ex.Message}: lease grants wait until it is removed (the agent then makes the lock file again)";
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            opened?.Dispose();
            return true;
        }
    }

    /// <summary>Under the lock, before a grant is recorded: refuses while another process's profile apply holds the owner lock.</summary>
    private void RequireOwnerLockLocked()
    {
        if (!TakeOwnerLock(out string? why))
        {
            throw why is null
                ? new RpcException(StatusCode.Unavailable, $"a node-profile apply is in progress in another process (aifactory-agent profile apply; it holds {OwnerLockPath}); try again when it has finished")
                : new RpcException(StatusCode.FailedPrecondition, why);
        }
    }

    private void ReleaseOwnerLock()
    {
        _ownerLock?.Dispose();
        _ownerLock = null;
    }

    private sealed class GateHold(ProfileApplyGate gate) : IProfileApplyHold
    {
        private int _disposed;

        public void Narrow(ProfileTouch touch) => gate.Narrow(touch);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                gate.Open();
            }
        }
    }
}
