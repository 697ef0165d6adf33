using System.Runtime.InteropServices;
using AiFactory.Agent.Configuration;

namespace AiFactory.Agent;

/// <summary>One thing the agent can or cannot do here, and why not.</summary>
internal sealed record HostCapability(string Name, bool Available, string Reason);

/// <summary>
/// What the agent can do on this host. Without root, or on a fixture tree instead of the real /sys, it serves
/// inventory read-only and says so; features replace or add their own entries (NVML after nvmlInit, libvirt).
/// </summary>
internal sealed class HostCapabilities
{
    private readonly List<HostCapability> _all = [];
    private readonly Lock _gate = new();

    public HostCapabilities(AgentOptions options)
        : this(options, Environment.IsPrivilegedProcess, NvmlLoadable)
    {
    }

    internal HostCapabilities(AgentOptions options, bool privileged, Func<string, bool> nvmlLoadable)
    {
        Add(new HostCapability("root", privileged, privileged ? string.Empty : "not running as root (uid " + Environment.UserName + ")"));

        var reasons = new List<string>();
        if (!IsRealRoot(options.SysfsRoot, "/sys"))
        {
            reasons.Add($"sysfs root is {options.SysfsRoot}, not /sys: a fixture tree is served read-only");
        }

        if (!IsRealRoot(options.ProcfsRoot, "/proc"))
        {
            reasons.Add($"procfs root is {options.ProcfsRoot}, not /proc");
        }

        if (!privileged)
        {
            reasons.Add("not running as root");
        }

        ReadOnlyAsked = options.ReadOnly;
        if (options.ReadOnly)
        {
            reasons.Add("read-only: true was asked for");
        }

        ReadOnly = reasons.Count > 0;
        ReadOnlyReason = string.Join("; ", reasons);
        Add(new HostCapability("sysfs-write", !ReadOnly, ReadOnlyReason));

        bool nvml = nvmlLoadable(options.NvmlLibrary);
        Add(new HostCapability("nvml", nvml, nvml ? string.Empty : $"{options.NvmlLibrary} not found: no GPU inventory or MIG"));
    }

    /// <summary>True when the agent must not change the machine.</summary>
    public bool ReadOnly { get; }

    /// <summary>Why the agent is read-only; empty when it is not.</summary>
    public string ReadOnlyReason { get; }

    /// <summary>
    /// True when the operator asked for read-only (<c>read-only: true</c>): then nothing may change, not even through
    /// a fake NVML library that a fixture tree would otherwise allow.
    /// </summary>
    public bool ReadOnlyAsked { get; }

    public IReadOnlyList<HostCapability> All
    {
        get
        {
            lock (_gate)
            {
                return [.. _all];
            }
        }
    }

    /// <summary>Records a capability (replacing one of the same name).</summary>
    public void Add(HostCapability capability)
    {
        lock (_gate)
        {
            _all.RemoveAll(c => c.Name == capability.Name);
            _all.Add(capability);
        }
    }

    private static bool IsRealRoot(string configured, string real) =>
        string.Equals(Path.GetFullPath(configured).TrimEnd('/'), real, StringComparison.Ordinal);

    /// <summary>Whether the NVML library can be loaded (the library stays loaded: the NVML feature uses it next).</summary>
    private static bool NvmlLoadable(string library) => NativeLibrary.TryLoad(library, out _);
}
