using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The PCI functions and hugepages leases hold, as the lease ledger records them: what the node profile must plan
/// around (the MIG instances come through <see cref="Gpu.IMigHolds"/>), and the exclusion between a profile apply and
/// lease grants (<see cref="HoldGrants"/>).
/// </summary>
internal interface ILeaseHolds
{
    /// <summary>The holds now; <see cref="LeaseHolds.Unavailable"/> says why when they cannot be known. Never throws.</summary>
    LeaseHolds HeldResources();

    /// <summary>
    /// Stops lease grants for a profile apply (<paramref name="origin"/> names it in refusals): from the return on,
    /// no lease is granted until <see cref="IProfileApplyHold.Narrow"/> says what the apply changes, then none that
    /// holds any of it, until the hold is disposed. Every lease granted before the return is in
    /// <see cref="HeldResources"/> afterwards. Never throws; a holder that cannot stop grants (the offline command
    /// beside a running agent) makes <see cref="HeldResources"/> unavailable instead.
    /// </summary>
    IProfileApplyHold HoldGrants(string origin);
}

/// <summary>What <see cref="ILeaseHolds.HoldGrants"/> gives the apply: dispose it when the apply has ended.</summary>
internal interface IProfileApplyHold : IDisposable
{
    /// <summary>Lets grants through again that hold nothing of <paramref name="touch"/> (what the apply's plan changes).</summary>
    void Narrow(ProfileTouch touch);
}
