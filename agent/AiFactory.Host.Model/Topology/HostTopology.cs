using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Memory;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Topology;

/// <summary>
/// The machine as discovery read it at one moment: CPUs, NUMA nodes, PCI devices, IOMMU groups and network
/// devices, plus the warnings for whatever could not be read. Immutable; a rescan builds a new one.
/// </summary>
public sealed record HostTopology
{
    /// <summary>The CPUs.</summary>
    public required CpuTopology Cpus { get; init; }

    /// <summary>The NUMA nodes, by id.</summary>
    public required IReadOnlyList<NumaNode> NumaNodes { get; init; }

    /// <summary>Every PCI function, sorted by address.</summary>
    public required IReadOnlyList<PciDevice> PciDevices { get; init; }

    /// <summary>IOMMU groups, by number; empty without an IOMMU.</summary>
    public IReadOnlyList<IommuGroup> IommuGroups { get; init; } = [];

    /// <summary>Network interfaces (Ethernet, IPoIB, ...) and RDMA devices.</summary>
    public IReadOnlyList<NetDevice> NetDevices { get; init; } = [];

    /// <summary>System-wide hugepage pools (<c>/sys/kernel/mm/hugepages</c>), by page size.</summary>
    public IReadOnlyList<HugepageSize> Hugepages { get; init; } = [];

    /// <summary>
    /// The PCI functions the host itself cannot give away, each with why: the boot disk's controller and the management
    /// NIC (the default route's). Found by <c>HostNeededDevices</c>, the one definition the profile's vfio refusals and
    /// the IOMMU group reports share; empty without procfs.
    /// </summary>
    public IReadOnlyDictionary<PciAddress, string> HostNeeded { get; init; } = new Dictionary<PciAddress, string>();

    /// <summary>MemTotal from <c>/proc/meminfo</c> in bytes; null when unknown.</summary>
    public long? MemoryTotalBytes { get; init; }

    /// <summary><c>/proc/cmdline</c>; null when unknown.</summary>
    public string? KernelCommandLine { get; init; }

    /// <summary>The sockets (physical packages), by id, from the CPUs' <c>physical_package_id</c>.</summary>
    public IReadOnlyList<int> Sockets
    {
        get
        {
            var ids = new SortedSet<int>();
            foreach (LogicalCpu c in Cpus.Cpus)
            {
                ids.Add(c.Socket);
            }

            return [.. ids];
        }
    }

    /// <summary>The NUMA node with id <paramref name="id"/>, or null.</summary>
    public NumaNode? FindNode(int id)
    {
        foreach (NumaNode n in NumaNodes)
        {
            if (n.Id == id)
            {
                return n;
            }
        }

        return null;
    }

    /// <summary>What could not be read or parsed: file, raw value and why. Discovery never throws for these.</summary>
    public IReadOnlyList<DiscoveryWarning> Warnings { get; init; } = [];

    /// <summary>The device at <paramref name="address"/>, or null.</summary>
    public PciDevice? FindDevice(PciAddress address)
    {
        foreach (PciDevice d in PciDevices)
        {
            if (d.Address == address)
            {
                return d;
            }
        }

        return null;
    }
}

/// <summary>An IOMMU group: <c>/sys/kernel/iommu_groups/N/devices</c>.</summary>
public sealed record IommuGroup(int Id, IReadOnlyList<PciAddress> Members);

/// <summary>A network interface from <c>/sys/class/net</c> or an RDMA device from <c>/sys/class/infiniband</c>.</summary>
/// <param name="Name">The interface name (eth0, ens1f0, ibp155s0, mlx5_0).</param>
/// <param name="Kind">What it is: by its link type for a network interface; an RDMA device.</param>
/// <param name="PciAddress">The PCI function behind it, when it has one (virtual interfaces have none).</param>
public sealed record NetDevice(string Name, NetDeviceKind Kind, PciAddress? PciAddress)
{
    /// <summary>True for a network interface (<c>/sys/class/net</c>), false for an RDMA device.</summary>
    public bool IsNetworkInterface => Kind != NetDeviceKind.InfiniBand;
}

/// <summary>The kind of network device.</summary>
public enum NetDeviceKind
{
    /// <summary>An Ethernet interface (/sys/class/net, type 1).</summary>
    Ethernet,

    /// <summary>An RDMA device (/sys/class/infiniband).</summary>
    InfiniBand,

    /// <summary>An IP-over-InfiniBand interface (/sys/class/net, type 32), e.g. ibp155s0 of a ConnectX in IB mode.</summary>
    IpOverInfiniBand,

    /// <summary>The loopback interface (/sys/class/net, type 772).</summary>
    Loopback,

    /// <summary>Any other network interface (/sys/class/net: another link type, or an unparsable one).</summary>
    OtherNetwork,
}

/// <summary>Something discovery could not read or parse; the rest of the inventory is still returned.</summary>
/// <param name="Path">The file, relative to the sysfs/procfs root (e.g. <c>bus/pci/devices/0000:41:00.0/numa_node</c>).</param>
/// <param name="RawValue">What the file held (shortened), or null when it could not be read.</param>
/// <param name="Message">Why it was not used.</param>
public sealed record DiscoveryWarning(string Path, string? RawValue, string Message);
