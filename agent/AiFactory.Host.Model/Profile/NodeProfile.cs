using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Profile;

/// <summary>
/// The declarative node profile (<c>/etc/aifactory/node-profile.yaml</c>, <c>version: v1</c>): what the node's
/// devices, VFs, hugepages and host CPUs should be. A config type: built by the profile loader, turned into a plan
/// by the profile planner; it never touches the machine.
/// </summary>
public sealed record NodeProfile
{
    /// <summary>The only schema version understood.</summary>
    public const string CurrentVersion = "v1";

    /// <summary>The schema version (always <see cref="CurrentVersion"/> once loaded).</summary>
    public string Version { get; init; } = CurrentVersion;

    /// <summary>Devices to bind to vfio-pci; null when the section is absent (vfio left as it is).</summary>
    public VfioProfile? Vfio { get; init; }

    /// <summary>SR-IOV physical functions and their VFs.</summary>
    public IReadOnlyList<SriovProfile> Sriov { get; init; } = [];

    /// <summary>MIG layouts per GPU; null when the section is absent (MIG left as it is).</summary>
    public MigSection? Mig { get; init; }

    /// <summary>Hugepage pools per NUMA node and page size.</summary>
    public IReadOnlyList<HugepageProfile> Hugepages { get; init; } = [];

    /// <summary>Host-reserved CPUs; null when the section is absent.</summary>
    public CpuProfile? Cpus { get; init; }

    /// <summary>Services that hold devices and are stopped/started around changes to them.</summary>
    public IReadOnlyList<ServiceProfile> Services { get; init; } = [];
}

/// <summary>The <c>vfio</c> section.</summary>
/// <param name="Devices">Devices (addresses or selectors) to bind to vfio-pci; IOMMU-group companions go along.</param>
/// <param name="HostDevices">Devices the host needs (boot disk, management NIC): a group holding one is refused.</param>
public sealed record VfioProfile(IReadOnlyList<DeviceSelector> Devices, IReadOnlyList<DeviceSelector> HostDevices);

/// <summary>One <c>sriov</c> entry: a physical function and its VFs.</summary>
/// <param name="PhysicalFunction">The PF.</param>
/// <param name="NumVfs">The VF count to have (<c>sriov_numvfs</c>).</param>
/// <param name="DriversAutoprobe"><c>sriov_drivers_autoprobe</c>; null to leave it.</param>
/// <param name="VfDriver">"vfio-pci" to bind every VF to vfio-pci; null to leave VFs to the host driver.</param>
public sealed record SriovProfile(PciAddress PhysicalFunction, int NumVfs, bool? DriversAutoprobe, string? VfDriver);

/// <summary>One <c>hugepages</c> entry: a node's pool of one page size.</summary>
/// <param name="Node">The NUMA node id.</param>
/// <param name="PageSizeKiB">The page size in KiB (2048, 1048576).</param>
/// <param name="Count">The number of pages to have (<c>nr_hugepages</c>).</param>
public sealed record HugepageProfile(int Node, long PageSizeKiB, long Count);

/// <summary>The <c>cpus</c> section: the CPUs the host keeps (systemd <c>AllowedCPUs=</c>); the rest are for leases.</summary>
/// <param name="Reserved">The host's CPUs.</param>
/// <param name="Units">The units that get <c>AllowedCPUs=</c> (system.slice, user.slice, init.scope by default).</param>
public sealed record CpuProfile(CpuSet Reserved, IReadOnlyList<string> Units)
{
    /// <summary>The units confined by default.</summary>
    public static readonly IReadOnlyList<string> DefaultUnits = ["system.slice", "user.slice", "init.scope"];
}

/// <summary>One <c>services</c> entry: a unit that holds devices (nvidia-persistenced, nvidia-fabricmanager, dcgm).</summary>
/// <param name="Name">The systemd unit.</param>
/// <param name="Holds">The devices it holds; empty means every device the profile changes.</param>
public sealed record ServiceProfile(string Name, IReadOnlyList<DeviceSelector> Holds);
