namespace AiFactory.Host.Model.Gpu;

/// <summary>Whether a GPU may be leased.</summary>
public enum GpuHealth
{
    /// <summary>No fatal event since the agent started (or since the last recovery).</summary>
    Healthy,

    /// <summary>Transient errors or pending page retirement/row remapping: usable, watch it.</summary>
    Degraded,

    /// <summary>A fatal XID, double-bit ECC, GPU lost or a recovery action other than none: leases avoid it.</summary>
    Unhealthy,
}
