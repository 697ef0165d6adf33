using AiFactory.Host.Model.Gpu;

namespace AiFactory.Agent.Gpu;

/// <summary>How bad an XID is for the GPU (not for the application that hit it).</summary>
internal enum XidClass
{
    /// <summary>An application's fault (page fault, engine exception): the GPU stays in service.</summary>
    Transient,

    /// <summary>The GPU keeps working but needs watching (page retirement recorded, SBE rate).</summary>
    Degraded,

    /// <summary>The GPU must be drained and reset (or the node rebooted): leases avoid it.</summary>
    Fatal,
}

/// <summary>
/// The XIDs the agent classifies, from NVIDIA's published XID catalogue ("XID Errors", NVIDIA GPU deployment and
/// management documentation). One data table; unknown XIDs count as <see cref="XidClass.Degraded"/>.
/// </summary>
internal static class XidTable
{
    private static readonly Dictionary<ulong, (XidClass Class, string Meaning)> Table = new()
    {
        [13] = (XidClass.Transient, "graphics engine exception (application)"),
        [31] = (XidClass.Transient, "GPU memory page fault (application)"),
        [43] = (XidClass.Transient, "GPU stopped processing (application)"),
        [45] = (XidClass.Transient, "preemptive cleanup after previous errors"),
        [48] = (XidClass.Fatal, "double-bit ECC error"),
        [61] = (XidClass.Fatal, "internal micro-controller breakpoint/warning"),
        [62] = (XidClass.Fatal, "internal micro-controller halt"),
        [63] = (XidClass.Degraded, "ECC page retirement or row remapping recorded"),
        [64] = (XidClass.Fatal, "ECC page retirement or row remapping failed"),
        [68] = (XidClass.Transient, "video decoder exception (application)"),
        [69] = (XidClass.Transient, "graphics engine class error (application)"),
        [74] = (XidClass.Fatal, "NVLink error"),
        [79] = (XidClass.Fatal, "GPU has fallen off the bus"),
        [92] = (XidClass.Degraded, "high single-bit ECC error rate"),
        [94] = (XidClass.Transient, "contained ECC error (application restarted)"),
        [95] = (XidClass.Fatal, "uncontained ECC error"),
        [119] = (XidClass.Fatal, "GSP RPC timeout"),
        [120] = (XidClass.Fatal, "GSP error"),
        [121] = (XidClass.Fatal, "C2C link error"),
        [140] = (XidClass.Fatal, "unrecovered ECC error"),
        [154] = (XidClass.Degraded, "GPU recovery action changed"),
    };

    public static (XidClass Class, string Meaning) Classify(ulong xid) =>
        Table.TryGetValue(xid, out var entry) ? entry : (XidClass.Degraded, $"XID {xid} (not in the agent's table)");

    public static GpuHealth HealthAfter(XidClass c) => c switch
    {
        XidClass.Fatal => GpuHealth.Unhealthy,
        XidClass.Degraded => GpuHealth.Degraded,
        _ => GpuHealth.Healthy,
    };
}
