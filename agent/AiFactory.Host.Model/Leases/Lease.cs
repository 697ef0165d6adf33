namespace AiFactory.Host.Model.Leases;

/// <summary>A granted lease: the request, the plan, who holds it and until when.</summary>
public sealed record Lease
{
    /// <summary>The lease id (<c>lease-</c> + 12 hex digits).</summary>
    public required string Id { get; init; }

    /// <summary>Who holds it.</summary>
    public required string Owner { get; init; }

    /// <summary>When it was granted.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it lapses; null for never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Where it is in its life.</summary>
    public required LeaseState State { get; init; }

    /// <summary>What was asked.</summary>
    public required LeaseRequest Request { get; init; }

    /// <summary>What was granted.</summary>
    public required LeasePlan Plan { get; init; }

    /// <summary>The libvirt domain it was attached to, when attached.</summary>
    public string? Domain { get; init; }

    /// <summary>The libvirt connection URI <see cref="Domain"/> lives on; null when not attached (or recorded before it was kept).</summary>
    public string? LibvirtUri { get; init; }
}

/// <summary>A lease's life.</summary>
public enum LeaseState
{
    /// <summary>Granted, recorded, and its devices bound.</summary>
    Active,

    /// <summary>Attached to a libvirt domain.</summary>
    Attached,

    /// <summary>Released; the resources are free again.</summary>
    Released,

    /// <summary>Its TTL ran out; the resources are free again.</summary>
    Expired,

    /// <summary>
    /// Reserved and recorded while its devices are being bound (outside the ledger's lock): it holds its resources,
    /// but cannot be released or attached until the grant finishes. Found at start, it means the agent stopped while
    /// granting it: the start-up reconciliation reports it, and releasing it gives back whatever was bound.
    /// </summary>
    Granting,
}
