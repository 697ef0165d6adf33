using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Leases;

/// <summary>
/// The concrete resources a request gets: devices, host CPUs per guest vCPU, memory per host NUMA node. The planner
/// makes it; the ledger stores it; the applier (vfio, MIG, libvirt) acts on it.
/// </summary>
public sealed record LeasePlan
{
    /// <summary>Every PCI function the lease takes, GPUs first, then VFs, then IOMMU-group companions.</summary>
    public required IReadOnlyList<LeasedDevice> Devices { get; init; }

    /// <summary>One MIG instance, when asked for.</summary>
    public MigPlacement? Mig { get; init; }

    /// <summary>The host NUMA nodes used, in guest cell order: guest cell i is <c>Nodes[i]</c>.</summary>
    public required IReadOnlyList<NodeAllocation> Nodes { get; init; }

    /// <summary>Host CPUs for emulator threads: every thread of one dedicated physical core (isolate) or the host's reserved (shared) set (share).</summary>
    public required CpuSet EmulatorCpus { get; init; }

    /// <summary>True when <see cref="EmulatorCpus"/> is a dedicated core of this lease.</summary>
    public bool EmulatorIsolated { get; init; }

    /// <summary>The page size of all of <see cref="NodeAllocation.MemoryBytes"/>.</summary>
    public required PageSize PageSize { get; init; }

    /// <summary>What did not fit on the devices' node(s) and went elsewhere (NUMA policy preferred); empty when nothing spilled.</summary>
    public IReadOnlyList<string> Spill { get; init; } = [];

    /// <summary>What is left whole after this plan: GPUs, NUMA nodes, cores.</summary>
    public required Fragmentation FragmentationAfter { get; init; }

    /// <summary>The host CPU of each guest vCPU, by vCPU index.</summary>
    public IReadOnlyList<int> VcpuPins
    {
        get
        {
            var pins = new List<int>();
            foreach (NodeAllocation n in Nodes)
            {
                pins.AddRange(n.VcpuCpus);
            }

            return pins;
        }
    }

    /// <summary>Every host CPU this lease keeps from others: vCPU CPUs, idle siblings under isolate/require, an isolated emulator core.</summary>
    public CpuSet ClaimedCpus
    {
        get
        {
            CpuSet all = EmulatorIsolated ? EmulatorCpus : CpuSet.Empty;
            foreach (NodeAllocation n in Nodes)
            {
                all = all.Union(CpuSet.Of(n.VcpuCpus)).Union(n.ReservedSiblings);
            }

            return all;
        }
    }

    /// <summary>Guest memory in bytes, all nodes.</summary>
    public long MemoryBytes => Nodes.Sum(n => n.MemoryBytes);
}

/// <summary>What a lease takes on one host NUMA node (one guest NUMA cell).</summary>
/// <param name="Node">The host node id.</param>
/// <param name="VcpuCpus">The host CPUs for this cell's vCPUs, in vCPU order.</param>
/// <param name="ReservedSiblings">SMT siblings kept idle on this node (thread policy isolate/require).</param>
/// <param name="MemoryBytes">Guest memory bound to this node.</param>
public sealed record NodeAllocation(int Node, IReadOnlyList<int> VcpuCpus, CpuSet ReservedSiblings, long MemoryBytes);

/// <summary>A PCI function in a lease.</summary>
/// <param name="Address">The function.</param>
/// <param name="Role">Why it is in the lease.</param>
/// <param name="NumaNode">Its NUMA node (null when the kernel does not know).</param>
/// <param name="OriginalDriver">The driver bound when planned; release restores it.</param>
/// <param name="Model">The model name, when known.</param>
/// <param name="PairedGpu">For a VF paired for GPUDirect RDMA: the GPU under the same PCIe switch.</param>
/// <param name="OriginalDriverOverride">Its <c>driver_override</c> when granted (null: none); release restores it.</param>
public sealed record LeasedDevice(PciAddress Address, DeviceRole Role, int? NumaNode, string? OriginalDriver, string? Model = null, PciAddress? PairedGpu = null, string? OriginalDriverOverride = null);

/// <summary>Why a PCI function is in a lease.</summary>
public enum DeviceRole
{
    /// <summary>A whole GPU for passthrough.</summary>
    Gpu,

    /// <summary>An SR-IOV virtual function.</summary>
    VirtualFunction,

    /// <summary>Another member of a GPU's IOMMU group (its audio function) that must go to vfio-pci with it.</summary>
    IommuCompanion,
}

/// <summary>A MIG instance to create on a GPU.</summary>
/// <param name="Gpu">The parent GPU.</param>
/// <param name="Profile">The NVML profile name.</param>
/// <param name="PlacementStart">The GPU-instance placement start slice.</param>
/// <param name="PlacementSize">The placement size in slices.</param>
public sealed record MigPlacement(PciAddress Gpu, string Profile, int PlacementStart, int PlacementSize);

/// <summary>How much is still whole on the host.</summary>
/// <param name="FreeWholeGpus">GPUs leased to nobody, not carrying MIG instances, not in MIG mode (which NVML reports) and not unhealthy.</param>
/// <param name="FreeWholeNumaNodes">CPU nodes with every non-reserved CPU and every device free.</param>
/// <param name="FreeWholeCores">Physical cores with every thread free.</param>
/// <param name="FreeCpus">Free CPUs (not host-reserved, not claimed).</param>
/// <param name="SplitCores">Cores with some threads claimed and some free: capacity usable only by the prefer policy.</param>
public sealed record Fragmentation(int FreeWholeGpus, int FreeWholeNumaNodes, int FreeWholeCores, int FreeCpus, int SplitCores)
{
    /// <summary>All zero: a placeholder before measuring.</summary>
    public static readonly Fragmentation Empty = new(0, 0, 0, 0, 0);
}
