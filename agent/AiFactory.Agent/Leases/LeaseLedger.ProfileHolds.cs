using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Leases;

/// <summary>The ledger as the source of the PCI functions and hugepages leases hold (see <see cref="ILeaseHolds"/>).</summary>
internal sealed partial class LeaseLedger : ILeaseHolds
{
    /// <summary>Every function and hugepage of the leases that hold (active, attached, being granted).</summary>
    public LeaseHolds HeldResources()
    {
        lock (_gate)
        {
            return HeldBy([.. _leases.Values.Where(e => e.Holds).Select(e => e.Lease)]);
        }
    }

    /// <summary>
    /// The holds of <paramref name="leases"/>: each function and CPU once (the first lease naming it), hugepages per
    /// lease, node and size, rounded up to whole pages, and each lease whose emulator threads share the host-reserved
    /// CPUs (not isolated, pinned to a non-empty set) with the CPUs they are pinned to.
    /// </summary>
    internal static LeaseHolds HeldBy(IReadOnlyList<Lease> leases)
    {
        var devices = new Dictionary<PciAddress, string>();
        var pages = new List<HugepageHold>();
        var cpus = new Dictionary<int, string>();
        var sharing = new Dictionary<string, CpuSet>(StringComparer.Ordinal);
        foreach (Lease lease in leases)
        {
            if (!lease.Plan.EmulatorIsolated && !lease.Plan.EmulatorCpus.IsEmpty)
            {
                sharing.TryAdd(lease.Id, lease.Plan.EmulatorCpus);
            }

            foreach (LeasedDevice d in lease.Plan.Devices)
            {
                devices.TryAdd(d.Address, lease.Id);
            }

            foreach (int cpu in lease.Plan.ClaimedCpus)
            {
                cpus.TryAdd(cpu, lease.Id);
            }

            if (lease.Plan.PageSize == PageSize.Small4K)
            {
                continue;
            }

            long pageKiB = lease.Plan.PageSize.KiB();
            long pageBytes = pageKiB * 1024;
            foreach (NodeAllocation n in lease.Plan.Nodes)
            {
                if (n.MemoryBytes > 0)
                {
                    pages.Add(new HugepageHold(n.Node, pageKiB, (n.MemoryBytes / pageBytes) + (n.MemoryBytes % pageBytes == 0 ? 0 : 1), lease.Id));
                }
            }
        }

        return new LeaseHolds { Devices = devices, Hugepages = pages, Cpus = cpus, SharingReserved = sharing };
    }
}
