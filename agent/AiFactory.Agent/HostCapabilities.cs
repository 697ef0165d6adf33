using AiFactory.Agent.Configuration;

namespace AiFactory.Agent;

/// <summary>One thing the agent can or cannot do here, and why not.</summary>
internal sealed record HostCapability(string Name, bool Available, string Reason);

/// <summary>
/// What the agent can do on this host. Without root, or on a fixture tree instead of the real /sys, it serves
/// inventory read-only and says so; later features add their own entries (NVML, libvirt).
/// </summary>
internal sealed class HostCapabilities
{
    private readonly List<HostCapability> _all = [];
    private readonly Lock _gate = new();

    public HostCapabilities(AgentOptions options)
        : this(options, Environment.IsPrivilegedProcess)
    {
    }

    internal HostCapabilities(AgentOptions options, bool privileged)
    {
        bool realSysfs = Path.GetFullPath(options.SysfsRoot).TrimEnd('/') == "/sys";
        string reason = !realSysfs
            ? $"sysfs root is {options.SysfsRoot}, not /sys: a fixture tree is served read-only"
            : !privileged ? "not running as root" : string.Empty;
        ReadOnly = reason.Length > 0;
        Add(new HostCapability("sysfs-write", !ReadOnly, reason));
    }

    /// <summary>True when the agent must not change the machine.</summary>
    public bool ReadOnly { get; }

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
}
