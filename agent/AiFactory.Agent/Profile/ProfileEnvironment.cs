using AiFactory.Agent.Configuration;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Hardware.Vfio;

namespace AiFactory.Agent.Profile;

/// <summary>
/// Everything the profile feature reads and writes, built once from the settings: the sysfs/procfs roots and their
/// writers, the journal and stored profile in the state dir, the VFIO group probe, systemctl, modprobe and the
/// boot-time overrides directory. Tests build one over a fixture tree with a kernel simulator and a fake systemctl.
/// </summary>
internal sealed record ProfileEnvironment
{
    public required SysfsTree Sysfs { get; init; }

    public required ISysfsWriter SysfsWriter { get; init; }

    public ISysfsWriter? ProcfsWriter { get; init; }

    public required string StateDir { get; init; }

    /// <summary>The procfs root, for the host-needed devices (boot disk, management NIC); null: only vfio.hostDevices.</summary>
    public string? ProcfsRoot { get; init; }

    public required IVfioGroupProbe Groups { get; init; }

    public required ISystemctl Systemctl { get; init; }

    public required IModuleLoader Modules { get; init; }

    /// <summary>
    /// The PCI functions and hugepages leases hold (the live ledger in the daemon, the stored one offline); null
    /// without a ledger (tests of the profile alone): nothing is held.
    /// </summary>
    public Leases.ILeaseHolds? Leases { get; init; }

    /// <summary>MIG through the agent's NVML; null where the daemon has no GPU feature (then a <c>mig</c> section is refused).</summary>
    public ProfileMig? Mig { get; init; }

    /// <summary>
    /// Where the vfio devices' boot-time overrides are persisted, one file per device, for the packaged udev rule
    /// 61-aifactory-vfio-overrides.rules (<c>/etc/aifactory/vfio-overrides.d</c> on a real host).
    /// </summary>
    public required string VfioOverridesDir { get; init; }

    /// <summary>The operator's profile, applied at start when present.</summary>
    public string ConfigProfilePath { get; init; } = "/etc/aifactory/node-profile.yaml";

    /// <summary>
    /// The directories a profile's <c>mig.partedConfig</c> may name a file in (<see cref="PartedConfigFile"/>):
    /// where nvidia-mig-manager keeps its configs, and the agent's own. <c>$AIFACTORY_MIG_PARTED_DIR</c> replaces both
    /// (tests, demos on a fixture tree).
    /// </summary>
    public IReadOnlyList<string> MigPartedDirectories { get; init; } = DefaultMigPartedDirectories;

    /// <summary>The default <see cref="MigPartedDirectories"/>.</summary>
    public static readonly IReadOnlyList<string> DefaultMigPartedDirectories = ["/etc/nvidia-mig-manager", "/etc/aifactory"];

    /// <summary>"kill-after-step:N": SIGKILL the process after step N (the kill -9 proof in the kernel tier).</summary>
    public string? Fault { get; init; }

    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The last profile applied (through the API, the offline command or at start).</summary>
    public string StoredProfilePath => Path.Join(StateDir, "profile", "node-profile.yaml");

    /// <summary>The SHA-256 of the operator's file (<see cref="ConfigProfilePath"/>) as it was when last applied.</summary>
    public string ConfigAppliedPath => Path.Join(StateDir, "profile", "node-profile.etc.sha256");

    /// <summary>
    /// Present while the node profile is applied (the start's apply succeeded, or there is none to apply):
    /// aifactory-ready.target asserts it (<c>AssertPathExists=</c>). Null: no marker (tests, the offline command).
    /// </summary>
    public string? ReadyMarkerPath { get; init; }

    public ProfileJournal Journal() => new(StateDir);

    public static ProfileEnvironment FromOptions(AgentOptions options)
    {
        bool realSysfs = Path.GetFullPath(options.SysfsRoot).TrimEnd('/') == "/sys";
        string? overrides = Environment.GetEnvironmentVariable("AIFACTORY_VFIO_OVERRIDES_DIR");
        return new ProfileEnvironment
        {
            Sysfs = new SysfsTree(options.SysfsRoot),
            SysfsWriter = new SysfsWriter(options.SysfsRoot),
            ProcfsWriter = new SysfsWriter(options.ProcfsRoot),
            StateDir = options.StateDir,
            ProcfsRoot = options.ProcfsRoot,
            Groups = new VfioGroupProbe(realSysfs ? "/dev" : Path.Join(options.SysfsRoot, "..", "dev")),
            Systemctl = new Systemctl(Environment.GetEnvironmentVariable("AIFACTORY_SYSTEMCTL") ?? "systemctl"),
            Modules = new ModuleLoader(Environment.GetEnvironmentVariable("AIFACTORY_MODPROBE") ?? "modprobe"),
            VfioOverridesDir = !string.IsNullOrEmpty(overrides) ? overrides : realSysfs ? "/etc/aifactory/vfio-overrides.d" : Path.Join(options.StateDir, "vfio-overrides.d"),
            ConfigProfilePath = Environment.GetEnvironmentVariable("AIFACTORY_NODE_PROFILE") is { Length: > 0 } p ? p : "/etc/aifactory/node-profile.yaml",
            Fault = Environment.GetEnvironmentVariable("AIFACTORY_PROFILE_FAULT"),
            // Beside the socket: /run/aifactory/profile-applied, gone at reboot with the rest of /run.
            ReadyMarkerPath = Path.Join(Path.GetDirectoryName(Path.GetFullPath(options.Socket)) ?? "/run/aifactory", "profile-applied"),
            MigPartedDirectories = Environment.GetEnvironmentVariable("AIFACTORY_MIG_PARTED_DIR") is { Length: > 0 } parted ? [parted] : DefaultMigPartedDirectories,
        };
    }
}
