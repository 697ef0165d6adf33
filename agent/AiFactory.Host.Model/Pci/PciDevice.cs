using AiFactory.Host.Model.Cpu;

namespace AiFactory.Host.Model.Pci;

/// <summary>One PCI function as the kernel shows it under <c>/sys/bus/pci/devices/&lt;address&gt;</c>.</summary>
public sealed record PciDevice
{
    /// <summary>The function's address.</summary>
    public required PciAddress Address { get; init; }

    /// <summary><c>vendor</c>, e.g. 0x10de for NVIDIA.</summary>
    public required ushort VendorId { get; init; }

    /// <summary><c>device</c>.</summary>
    public required ushort DeviceId { get; init; }

    /// <summary><c>subsystem_vendor</c>; null when absent.</summary>
    public ushort? SubsystemVendorId { get; init; }

    /// <summary><c>subsystem_device</c>; null when absent.</summary>
    public ushort? SubsystemDeviceId { get; init; }

    /// <summary><c>class</c>: the 24-bit class code (base class, subclass, programming interface).</summary>
    public required uint ClassCode { get; init; }

    /// <summary>What the device is, from its class and ids.</summary>
    public DeviceKind Kind { get; init; } = DeviceKind.Other;

    /// <summary>A marketing name from the PCI id table (e.g. "H100 SXM5 80GB"), when known.</summary>
    public string? ModelName { get; init; }

    /// <summary>The bound driver: the target name of the <c>driver</c> link; null when unbound.</summary>
    public string? Driver { get; init; }

    /// <summary><c>driver_override</c>; null when absent or "(null)".</summary>
    public string? DriverOverride { get; init; }

    /// <summary><c>numa_node</c>; null when the kernel says -1 ("unknown", not node 0) or the file is absent.</summary>
    public int? NumaNode { get; init; }

    /// <summary><c>local_cpulist</c>; null when absent.</summary>
    public CpuSet? LocalCpus { get; init; }

    /// <summary>The PCIe link, when the device has one.</summary>
    public PcieLink? Link { get; init; }

    /// <summary><c>reset_method</c>: the reset methods the kernel can use, in its order; empty when none or absent.</summary>
    public IReadOnlyList<string> ResetMethods { get; init; } = [];

    /// <summary>The IOMMU group number (target of the <c>iommu_group</c> link); null without an IOMMU.</summary>
    public int? IommuGroup { get; init; }

    /// <summary>SR-IOV capability, when the device is a physical function that has one.</summary>
    public SriovInfo? Sriov { get; init; }

    /// <summary>The physical function (target of <c>physfn</c>) when this is a virtual function.</summary>
    public PciAddress? PhysicalFunction { get; init; }

    /// <summary>The upstream PCI bridges from the nearest to the root port; empty for a device on a root bus.</summary>
    public IReadOnlyList<PciAddress> UpstreamBridges { get; init; } = [];

    /// <summary>The root port the device hangs under (the last of <see cref="UpstreamBridges"/>), if any.</summary>
    public PciAddress? RootPort => UpstreamBridges.Count > 0 ? UpstreamBridges[^1] : null;

    /// <summary>True for a virtual function.</summary>
    public bool IsVirtualFunction => PhysicalFunction is not null;

    /// <summary>The base class byte (0x03 display, 0x02 network, 0x01 storage, 0x06 bridge, ...).</summary>
    public byte BaseClass => (byte)(ClassCode >> 16);

    /// <summary>
    /// True when this device's side of its PCIe link is where the link is judged: an endpoint, or a bridge that faces
    /// upstream (a switch upstream port: an odd number of bridges above it, as PCIe hierarchies alternate root or
    /// downstream port, upstream port). A root or switch downstream port's link attributes describe the link to the
    /// device below it, which is judged there, against this port's maximum.
    /// </summary>
    public bool FacesUpstream => Kind != DeviceKind.Bridge || UpstreamBridges.Count % 2 == 1;

    /// <summary>
    /// True for another function of a GPU's device (same domain, bus and device; the HD-audio function, a USB-C
    /// controller): it reports the same link as the GPU, which the GPU slows down while idle. Set by discovery.
    /// </summary>
    public bool SharesGpuLink { get; init; }

    /// <summary>
    /// True when the link may run slower than both ends allow for power saving. GPUs drop their PCIe speed (generation)
    /// while idle and raise it under load, and so does the link of the other functions of their device
    /// (<see cref="SharesGpuLink"/>), so their speed is left out; see <see cref="PcieLink.IsSpeedReduced"/>.
    /// </summary>
    public bool LowersLinkSpeedWhenIdle => Kind == DeviceKind.Gpu || SharesGpuLink;

    /// <summary>
    /// The link is degraded: fewer lanes than both ends support (a lost lane is a fault whatever the load), or, for a
    /// device that does not lower its speed to save power, a speed below what both ends support. Judged only on
    /// <see cref="FacesUpstream"/> devices, against min(device maximum, upstream port maximum), so a card in a slower or
    /// narrower slot is not degraded.
    /// </summary>
    public bool IsLinkDegraded =>
        FacesUpstream && Link is { } link && (link.IsWidthReduced || (link.IsSpeedReduced && !LowersLinkSpeedWhenIdle));
}

/// <summary>SR-IOV state of a physical function.</summary>
public sealed record SriovInfo(int TotalVfs, int NumVfs, bool? DriversAutoprobe, IReadOnlyList<PciAddress> VirtualFunctions);

/// <summary>What a PCI function is, for placement and display.</summary>
public enum DeviceKind
{
    /// <summary>Anything not below.</summary>
    Other,

    /// <summary>A GPU or accelerator (display/3D controller or processing accelerator of a GPU vendor).</summary>
    Gpu,

    /// <summary>The HD-audio function that sits beside a GPU.</summary>
    GpuAudio,

    /// <summary>An Ethernet or InfiniBand controller.</summary>
    Nic,

    /// <summary>An NVMe controller.</summary>
    Nvme,

    /// <summary>A PCI/PCIe bridge, root port or switch port.</summary>
    Bridge,

    /// <summary>An NVIDIA NVSwitch.</summary>
    NvSwitch,

    /// <summary>Another storage controller (SATA, SAS, RAID).</summary>
    Storage,
}
