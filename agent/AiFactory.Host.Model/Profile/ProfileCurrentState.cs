using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Profile;

/// <summary>
/// What the planner needs beyond <see cref="Topology.HostTopology"/>: module and systemd state, read by the
/// hardware layer and passed in (the planner opens nothing).
/// </summary>
public sealed record ProfileCurrentState
{
    /// <summary>Nothing known: vfio-pci not loaded, no AllowedCPUs set, no service active.</summary>
    public static readonly ProfileCurrentState Empty = new();

    /// <summary>True when <c>/sys/bus/pci/drivers/vfio-pci</c> exists.</summary>
    public bool VfioPciLoaded { get; init; }

    /// <summary>Each unit's <c>AllowedCPUs=</c> now; a unit absent or mapped to the empty set is unconfined.</summary>
    public IReadOnlyDictionary<string, CpuSet> AllowedCpus { get; init; } = new Dictionary<string, CpuSet>();

    /// <summary>
    /// The <c>cpus</c> section of the profile this agent applied last (its copy in the state dir): the units it set
    /// <c>AllowedCPUs=</c> on, and to what. A unit named there that the profile planned does not name (every one, when
    /// that profile has no <c>cpus</c> section) and that still has the set it was given is reset to all CPUs; a unit
    /// the agent never set is left alone. Null when the last profile had no <c>cpus</c> section, or none was applied.
    /// Its units' <c>AllowedCPUs=</c> are in <see cref="AllowedCpus"/> too.
    /// </summary>
    public CpuProfile? AppliedCpus { get; init; }

    /// <summary>
    /// Why the profile applied last cannot be read (damaged, or written by a newer agent), so which units this agent
    /// confined is unknown; null when it can be read or there is none. While unknown, a profile without a <c>cpus</c>
    /// section is refused.
    /// </summary>
    public string? AppliedCpusUnknown { get; init; }

    /// <summary>
    /// PCI functions the host needs, found by the hardware layer (the boot disk, the management NIC), with why; a
    /// vfio request for one, or for a device in its IOMMU group, is refused.
    /// </summary>
    public IReadOnlyDictionary<PciAddress, string> HostNeeded { get; init; } = new Dictionary<PciAddress, string>();

    /// <summary>
    /// The driver overrides persisted for boot (one file per device in <c>/etc/aifactory/vfio-overrides.d</c>, read by
    /// the packaged udev rule), by device; null when this agent persists none (then no persist steps are planned).
    /// </summary>
    public IReadOnlyDictionary<PciAddress, string>? PersistedOverrides { get; init; }

    /// <summary>The GPUs NVML sees, with their MIG state; read only when the profile has a <c>mig</c> section.</summary>
    public IReadOnlyList<MigGpuState> MigGpus { get; init; } = [];

    /// <summary>
    /// The GPUs NVML counts whose MIG state could not be read, each with its error: an entry that selects one is
    /// refused naming it; the others plan as usual.
    /// </summary>
    public IReadOnlyList<MigGpuUnreadable> MigUnreadableGpus { get; init; } = [];

    /// <summary>
    /// The GPU instances leases hold, from the lease ledger: never destroyed, MIG never disabled under them, and a layout
    /// that cannot be placed around them is refused naming the lease; empty without a ledger.
    /// </summary>
    public IReadOnlyList<MigHold> MigHeld { get; init; } = [];

    /// <summary>Why MIG state could not be read (no NVML); null when it was, or was not needed.</summary>
    public string? MigUnavailable { get; init; }

    /// <summary>
    /// Why the GPU instances leases hold (<see cref="MigHeld"/>) are unknown (a running agent has the lease ledger open,
    /// the ledger cannot be read); null when they are known. While unknown, the <c>mig</c> section is refused.
    /// </summary>
    public string? MigHoldsUnavailable { get; init; }

    /// <summary>The units active now (only those are stopped and started around device changes).</summary>
    public IReadOnlySet<string> ActiveUnits { get; init; } = new HashSet<string>();

    /// <summary>
    /// The current values that could not be read (see <see cref="UnreadableValue"/>): each refuses the entries that
    /// depend on it; entries that do not still plan.
    /// </summary>
    public IReadOnlyList<UnreadableValue> Unreadable { get; init; } = [];

    /// <summary>The PCI functions and hugepages leases hold, from the lease ledger; <see cref="LeaseHolds.None"/> without a ledger.</summary>
    public LeaseHolds Leases { get; init; } = LeaseHolds.None;

    /// <summary>
    /// The compute processes NVML reports on each GPU ("PID 4242 (python3)"), by address; read when the profile has a
    /// <c>vfio</c> section. A GPU absent here has none (or is not on the NVIDIA driver).
    /// </summary>
    public IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> GpuProcesses { get; init; } = new Dictionary<PciAddress, IReadOnlyList<string>>();

    /// <summary>Why GPU processes could not be read (no NVML); null when they were, or were not needed.</summary>
    public string? GpuProcessesUnavailable { get; init; }
}
