using AiFactory.Agent.Leases;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Metrics.Sources;

/// <summary>
/// The daemon's <see cref="ILeaseSource"/>: the leases the ledger holds now (active and attached; released and expired
/// ones hold nothing and are left out), read from the ledger's memory (no disk read per scrape).
/// </summary>
internal sealed class LedgerLeaseSource(LeaseLedger ledger) : ILeaseSource
{
    public IReadOnlyList<LeaseSnapshot> Read()
    {
        IReadOnlyList<LeaseLedger.Entry> entries = ledger.List(includeEnded: false);
        var leases = new List<LeaseSnapshot>(entries.Count);
        foreach (LeaseLedger.Entry entry in entries)
        {
            leases.Add(ToSnapshot(entry.Lease));
        }

        return leases;
    }

    /// <summary>
    /// One lease as the metrics see it: its devices, the CPUs it keeps from others (vCPU CPUs, idle SMT siblings, an
    /// isolated emulator CPU; all dedicated to it: the planner never hands a claimed CPU to a second lease), the
    /// nodes its memory is bound to, and its hugepages per node (guest memory ÷ page size, none for 4 KiB pages).
    /// </summary>
    public static LeaseSnapshot ToSnapshot(Lease lease)
    {
        LeasePlan plan = lease.Plan;
        var devices = new List<PciAddress>(plan.Devices.Count);
        foreach (LeasedDevice device in plan.Devices)
        {
            devices.Add(device.Address);
        }

        var memoryNodes = new List<int>();
        var hugepages = new List<LeaseHugepages>();
        long pageBytes = plan.PageSize.Bytes();
        foreach (NodeAllocation node in plan.Nodes)
        {
            if (node.MemoryBytes <= 0)
            {
                continue;
            }

            if (!memoryNodes.Contains(node.Node))
            {
                memoryNodes.Add(node.Node);
            }

            if (plan.PageSize != PageSize.Small4K)
            {
                hugepages.Add(new LeaseHugepages(node.Node, plan.PageSize.KiB(), node.MemoryBytes / pageBytes));
            }
        }

        CpuSet cpus = plan.ClaimedCpus;
        return new LeaseSnapshot
        {
            Id = lease.Id,
            VmName = lease.Domain,
            State = lease.State.ToString().ToLowerInvariant(),
            Devices = devices,
            Cpus = cpus,
            DedicatedCpus = !cpus.IsEmpty,
            MemoryNumaNodes = memoryNodes,
            Hugepages = hugepages,
        };
    }
}
