using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Gpu;

/// <summary>
/// A GPU instance a lease holds, from the lease ledger. MIG layouts (<c>mig apply</c>, the node profile) are planned
/// around it: it is never destroyed or re-partitioned while the lease holds it.
/// </summary>
/// <param name="Gpu">The parent GPU.</param>
/// <param name="Profile">The GPU instance profile name, e.g. <c>1g.10gb</c>.</param>
/// <param name="Placement">The placement the lease planned and created it at.</param>
/// <param name="LeaseId">The lease that holds it.</param>
public sealed record MigHold(PciAddress Gpu, string Profile, MigPlacement Placement, string LeaseId)
{
    /// <summary>Whether <paramref name="instance"/> is this held instance (same profile, same placement).</summary>
    public bool Is(MigInstance instance) =>
        instance.Placement == Placement && string.Equals(instance.Profile, Profile, StringComparison.OrdinalIgnoreCase);

    /// <summary><c>1g.10gb@6:1 on 0000:18:00.0 held by lease lease-0123456789ab</c>, for refusals.</summary>
    public override string ToString() => $"{Profile}@{Placement} on {Gpu} held by lease {LeaseId}";
}
