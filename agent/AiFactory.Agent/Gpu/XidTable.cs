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
/// The XIDs the agent knows, each with its class and its name in NVIDIA's published XID catalogue ("XID Errors",
/// NVIDIA GPU deployment and management documentation). The one table of XID texts: the health watcher's event
/// messages and the <c>err_msg</c> label of DCGM_FI_DEV_XID_ERRORS both read it. The names are the strings
/// dcgm-exporter puts in <c>err_msg</c> (internal/pkg/collector/xid_errors.go, from the same catalogue), so alerts
/// written against it match; an XID not listed here is "Unknown Error" (dcgm-exporter's text for codes outside its
/// table) and counts as <see cref="XidClass.Degraded"/>.
/// </summary>
internal static class XidTable
{
    /// <summary>dcgm-exporter's err_msg for an XID it has no text for.</summary>
    public const string UnknownName = "Unknown Error";

    /// <summary>dcgm-exporter's err_msg for 0, the value before any XID is seen.</summary>
    public const string NoErrorName = "No Error";

    private static readonly Dictionary<ulong, (XidClass Class, string Name)> Table = new()
    {
        [13] = (XidClass.Transient, "Graphics Engine Exception"),
        [31] = (XidClass.Transient, "GPU memory page fault"),
        [43] = (XidClass.Transient, "GPU stopped processing"),
        [45] = (XidClass.Transient, "Preemptive cleanup, due to previous errors -- Most likely to see when running multiple cuda"),
        [48] = (XidClass.Fatal, "Double Bit ECC Error"),
        [61] = (XidClass.Fatal, "Internal micro-controller breakpoint/warning"),
        [62] = (XidClass.Fatal, "Internal micro-controller halt"),
        [63] = (XidClass.Degraded, "ECC page retirement or row remapping recording event"),
        [64] = (XidClass.Fatal, "ECC page retirement or row remapper recording failure"),
        [68] = (XidClass.Transient, "NVDEC0 Exception"),
        [69] = (XidClass.Transient, "Graphics Engine class error"),
        [74] = (XidClass.Fatal, "NVLINK Error"),
        [79] = (XidClass.Fatal, "GPU has fallen off the bus"),
        [92] = (XidClass.Degraded, "High single-bit ECC error rate"),
        [94] = (XidClass.Transient, "Contained ECC error"),
        [95] = (XidClass.Fatal, "Uncontained ECC error"),
        [119] = (XidClass.Fatal, "GSP RPC Timeout"),
        [120] = (XidClass.Fatal, "GSP Error"),
        [121] = (XidClass.Fatal, "C2C Link Error"),
        [140] = (XidClass.Fatal, "Unrecovered ECC Error"),
        [154] = (XidClass.Degraded, "GPU Recovery Action Changed"),
    };

    /// <summary>The XID's class and catalogue name; an unknown XID is <see cref="XidClass.Degraded"/>, "Unknown Error".</summary>
    public static (XidClass Class, string Name) Classify(ulong xid) =>
        Table.TryGetValue(xid, out var entry) ? entry : (XidClass.Degraded, UnknownName);

    /// <summary>The <c>err_msg</c> label for an XID value: "No Error" for 0, the catalogue name, or "Unknown Error".</summary>
    public static string Name(ulong xid) => xid == 0 ? NoErrorName : Classify(xid).Name;

    public static GpuHealth HealthAfter(XidClass c) => c switch
    {
        XidClass.Fatal => GpuHealth.Unhealthy,
        XidClass.Degraded => GpuHealth.Degraded,
        _ => GpuHealth.Healthy,
    };
}
