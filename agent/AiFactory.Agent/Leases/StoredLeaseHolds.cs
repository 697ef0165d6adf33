using AiFactory.Agent.Gpu;
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
/// </summary>
internal sealed class StoredLeaseHolds(string stateDir) : IMigHolds, ILeaseHolds
{
    /// <summary>The functions and hugepages leases hold, from the stored ledger; unavailable, with why, beside a running agent or when the ledger cannot be read.</summary>
    public Host.Model.Profile.LeaseHolds HeldResources()
    {
        var ledger = new LeaseLedger(stateDir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
        try
        {
            ledger.LoadReadOnly();
        }
        catch (LeaseLedgerInUseException ex)
        {
            return new Host.Model.Profile.LeaseHolds { Unavailable = $"{ex.Message}: apply the profile through it (aifactoryctl profile apply), or stop it first" };
        }
        catch (InvalidDataException ex)
        {
            return new Host.Model.Profile.LeaseHolds { Unavailable = $"the lease ledger cannot be read ({ex.Message}): start the agent once (it sets an unreadable ledger aside and says so), then try again" };
        }

        return ledger.HeldResources();
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
            throw new MigRefusedException($"{ex.Message}: change MIG through it (aifactoryctl profile apply, aifactoryctl mig), or stop it first; nothing was changed");
        }
        catch (InvalidDataException ex)
        {
            throw new MigRefusedException($"the lease ledger cannot be read ({ex.Message}), so the MIG instances leases hold are unknown: start the agent once (it sets an unreadable ledger aside and says so), then try again; nothing was changed");
        }

        return ledger.While(action);
    }
}
