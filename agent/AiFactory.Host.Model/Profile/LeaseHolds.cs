using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Profile;

/// <summary>
/// What leases hold outside MIG, from the lease ledger: the PCI functions (whole GPUs, VFs, IOMMU companions) and the
/// hugepages per node and size, the CPUs leases pin, and the leases whose emulator threads share the host-reserved CPUs.
/// The profile planner never unbinds or rebinds a held function, never changes the VF count of a PF whose VFs are held,
/// never shrinks a pool below the pages held, never reserves a pinned CPU for the host, and never changes the
/// host-reserved CPUs under a lease that shares them, and names the leases when it refuses.
/// </summary>
public sealed record LeaseHolds
{
    /// <summary>Nothing held (no ledger, or an empty one).</summary>
    public static readonly LeaseHolds None = new();

    /// <summary>Each held PCI function and the lease holding it.</summary>
    public IReadOnlyDictionary<PciAddress, string> Devices { get; init; } = new Dictionary<PciAddress, string>();

    /// <summary>Each host CPU a lease keeps from others (vCPU CPUs, idle siblings, an isolated emulator core) and the lease.</summary>
    public IReadOnlyDictionary<int, string> Cpus { get; init; } = new Dictionary<int, string>();

    /// <summary>
    /// Each lease whose emulator threads are pinned to the host-reserved CPUs (emulator threads share), and the CPUs they
    /// are pinned to: the reserved set as it was when the lease was granted. Moving, resizing or removing that set
    /// would leave the threads on CPUs a later lease may get as its own.
    /// </summary>
    public IReadOnlyDictionary<string, CpuSet> SharingReserved { get; init; } = new Dictionary<string, CpuSet>(StringComparer.Ordinal);

    /// <summary>The hugepages each lease holds, per node and page size (one entry per lease, node and size).</summary>
    public IReadOnlyList<HugepageHold> Hugepages { get; init; } = [];

    /// <summary>
    /// Why the holds are unknown (a running agent has the ledger open, the ledger cannot be read); null when they are
    /// known. While unknown, every change a lease could be under (a VF count, a binding, a pool shrinking, the host-reserved CPUs) is refused.
    /// </summary>
    public string? Unavailable { get; init; }

    /// <summary>The pages leases hold in one pool, and the holders ("lease-1 512, lease-2 1024").</summary>
    public (long Pages, string Leases) HugepagesHeld(int node, long pageSizeKiB)
    {
        List<HugepageHold> held = [.. Hugepages.Where(h => h.Node == node && h.PageSizeKiB == pageSizeKiB && h.Pages > 0)];
        return (held.Sum(h => h.Pages), string.Join(", ", held.Select(h => $"{h.LeaseId} {h.Pages}")));
    }
}

/// <summary>Hugepages one lease holds in one pool.</summary>
/// <param name="Node">The NUMA node.</param>
/// <param name="PageSizeKiB">The page size (2048, 1048576).</param>
/// <param name="Pages">The pages held.</param>
/// <param name="LeaseId">The lease.</param>
public sealed record HugepageHold(int Node, long PageSizeKiB, long Pages, string LeaseId);
