using AiFactory.Agent.Gpu;
using AiFactory.Host.Hardware.Files;
using AiFactory.Host.Model.Gpu;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The GPU instances leases hold, read from the lease ledger in the state dir when the agent is not running: the
/// offline <c>aifactory-agent profile</c> command's <see cref="IMigHolds"/>, so its MIG layouts are planned around
/// them (or refused, naming the lease) exactly as the daemon's are with the live <see cref="LeaseLedger"/>. Read-only:
/// each call reads the ledger again (<see cref="LeaseLedger.LoadReadOnly"/>) and changes no file. Refuses with
/// <see cref="MigRefusedException"/> when a running agent has the ledger open (leases may be granted or released there
/// at any moment, so only that agent can hold them still) or when the ledger cannot be read.
/// A running agent is seen by its journal lock and by the owner lock it holds shared from its start
/// (<see cref="LeaseLedger.OwnerLockPath"/>, also with an empty ledger); an apply holds the owner lock exclusive
/// (<see cref="HoldGrants"/>), so an agent started meanwhile grants nothing until the apply has ended.
/// </summary>
internal sealed class StoredLeaseHolds(string stateDir) : IMigHolds, ILeaseHolds
{
    private readonly Lock _gate = new();

    // The owner lock, held exclusive for an apply; null when not held (no apply, or a running agent has it).
    private FileLock? _owner;

    // The file by which a read first found a running agent holding the ledger; null while none has.
    private string? _agentHolding;

    private string OwnerLockPath => Path.Join(stateDir, LeaseLedger.OwnerLockFileName);

    /// <summary>
    /// The file by which a read of this instance found the ledger open in a running agent (its owner lock, or its
    /// journal), or null when none did: the holds that read left unknown are that agent's to know. The offline
    /// command tells "a running agent holds the state dir" from a profile's own errors by it.
    /// </summary>
    public string? AgentHolding
    {
        get
        {
            lock (_gate)
            {
                return _agentHolding;
            }
        }
    }

    /// <summary>The functions and hugepages leases hold, from the stored ledger; unavailable, with why, beside a running agent or when the ledger cannot be read.</summary>
    public Host.Model.Profile.LeaseHolds HeldResources()
    {
        bool holding;
        lock (_gate)
        {
            holding = _owner is not null;
        }

        if (!holding && OwnerLockInUse() is { } why)
        {
            return new Host.Model.Profile.LeaseHolds { Unavailable = why };
        }

        var ledger = new LeaseLedger(stateDir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
        try
        {
            ledger.LoadReadOnly();
        }
        catch (LeaseLedgerInUseException ex)
        {
            SeenHolding(ex.Journal);
            return new Host.Model.Profile.LeaseHolds { Unavailable = $"{ex.Message}: apply the profile through it (aifactoryctl profile apply), or stop it first" };
        }
        catch (InvalidDataException ex)
        {
            return new Host.Model.Profile.LeaseHolds { Unavailable = $"the lease ledger cannot be read ({ex.Message}): start the agent once (it sets an unreadable ledger aside and says so), then try again" };
        }

        return ledger.HeldResources();
    }

    /// <summary>
    /// Takes the owner lock exclusive for the apply: no agent grants a lease until it is disposed. When a running
    /// agent holds it, nothing is taken and <see cref="HeldResources"/> says the holds are unknown.
    /// </summary>
    public IProfileApplyHold HoldGrants(string origin)
    {
        lock (_gate)
        {
            if (_owner is null)
            {
                FileLock? opened = null;
                try
                {
                    Directory.CreateDirectory(stateDir);
                    // flock(LOCK_EX | LOCK_NB) taken directly: refused while an agent holds it shared, whatever
                    // DOTNET_SYSTEM_IO_DISABLEFILELOCKING says (it turns off only .NET's own FileStream locks).
                    opened = FileLock.Open(OwnerLockPath, create: true)!;
                    if (opened.TryLock(exclusive: true))
                    {
                        _owner = opened;
                        opened = null;
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Not taken: HeldResources then says why the holds are unknown.
                }
                finally
                {
                    opened?.Dispose();
                }
            }
        }

        return new OwnerHold(this);
    }

    /// <summary>
    /// Why the holds cannot be read from the stored ledger now: another open of the owner lock (a running agent) holds
    /// it, or something other than a regular file is in its place; null when it is free (or absent).
    /// </summary>
    private string? OwnerLockInUse()
    {
        try
        {
            using FileLock? probe = FileLock.Open(OwnerLockPath, create: false);
            if (probe is null || probe.TryLock(exclusive: true))
            {
                return null;
            }

            SeenHolding(OwnerLockPath);
            return $"the lease ledger in {stateDir} is open in a running aifactory-agent (it holds {OwnerLockPath}), which grants and releases leases at any moment: apply the profile through it (aifactoryctl profile apply), or stop it first";
        }
        catch (IOException ex)
        {
            return $"{ex.Message}: whether an agent holds the lease ledger cannot be told, so what leases hold is unknown; remove it (the agent makes the lock file again) and try again";
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void SeenHolding(string file)
    {
        lock (_gate)
        {
            _agentHolding ??= file;
        }
    }

    private void Release()
    {
        lock (_gate)
        {
            _owner?.Dispose();
            _owner = null;
        }
    }

    public T While<T>(Func<IReadOnlyList<MigHold>, T> action)
    {
        var ledger = new LeaseLedger(stateDir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
        try
        {
            ledger.LoadReadOnly();
        }
        catch (LeaseLedgerInUseException ex)
        {
            SeenHolding(ex.Journal);
            throw new MigRefusedException($"{ex.Message}: change MIG through it (aifactoryctl profile apply, aifactoryctl mig), or stop it first; nothing was changed");
        }
        catch (InvalidDataException ex)
        {
            throw new MigRefusedException($"the lease ledger cannot be read ({ex.Message}), so the MIG instances leases hold are unknown: start the agent once (it sets an unreadable ledger aside and says so), then try again; nothing was changed");
        }

        return ledger.While(action);
    }

    private sealed class OwnerHold(StoredLeaseHolds holds) : IProfileApplyHold
    {
        public void Narrow(Host.Model.Profile.ProfileTouch touch)
        {
            // The agent grants nothing while the owner lock is held: nothing to narrow across processes.
        }

        public void Dispose() => holds.Release();
    }
}
