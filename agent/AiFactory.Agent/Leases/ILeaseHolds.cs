using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The PCI functions and hugepages leases hold, as the lease ledger records them: what the node profile must plan
/// around (the MIG instances come through <see cref="Gpu.IMigHolds"/>).
/// </summary>
internal interface ILeaseHolds
{
    /// <summary>The holds now; <see cref="LeaseHolds.Unavailable"/> says why when they cannot be known. Never throws.</summary>
    LeaseHolds HeldResources();
}
