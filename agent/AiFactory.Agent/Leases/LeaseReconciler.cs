using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Compares the ledger with the machine at start: devices that are gone or bound to an unexpected driver, CPUs
/// that are offline or now host-reserved, leases that overlap. Pure: it reports and never "fixes" — an operator
/// (or the lease's owner) decides, because the ledger may be right and the machine wrong, or the other way round.
/// </summary>
internal static class LeaseReconciler
{
    /// <summary>One line per disagreement, each naming the lease and the resource.</summary>
    public static IReadOnlyList<(string LeaseId, string Message)> Compare(IReadOnlyList<Lease> holding, HostTopology topology, CpuSet hostReserved)
    {
        var found = new List<(string, string)>();
        var seenDevices = new Dictionary<PciAddress, string>();
        var seenCpus = new Dictionary<int, string>();
        foreach (Lease lease in holding)
        {
            foreach (LeasedDevice d in lease.Plan.Devices)
            {
                if (seenDevices.TryGetValue(d.Address, out string? other))
                {
                    found.Add((lease.Id, $"device {d.Address} is also held by lease {other}"));
                }

                seenDevices[d.Address] = lease.Id;
                PciDevice? device = topology.FindDevice(d.Address);
                if (device is null)
                {
                    found.Add((lease.Id, $"device {d.Address} ({d.Role}) is not on the host any more"));
                }
                else if (device.Driver is { } driver && driver != "vfio-pci" && driver != d.OriginalDriver)
                {
                    found.Add((lease.Id, $"device {d.Address} is bound to {driver}; the lease expects vfio-pci or its original driver {d.OriginalDriver ?? "(none)"}"));
                }
            }

            if (lease.Plan.Mig is { } mig && topology.FindDevice(mig.Gpu) is null)
            {
                found.Add((lease.Id, $"MIG parent GPU {mig.Gpu} is not on the host any more"));
            }

            foreach (int cpu in lease.Plan.ClaimedCpus)
            {
                if (seenCpus.TryGetValue(cpu, out string? other))
                {
                    found.Add((lease.Id, $"CPU {cpu} is also held by lease {other}"));
                }

                seenCpus[cpu] = lease.Id;
            }

            CpuSet offline = lease.Plan.ClaimedCpus.Except(topology.Cpus.Online);
            if (!offline.IsEmpty)
            {
                found.Add((lease.Id, $"CPUs {offline} are not online"));
            }

            CpuSet nowReserved = lease.Plan.ClaimedCpus.Intersect(hostReserved);
            if (!nowReserved.IsEmpty)
            {
                found.Add((lease.Id, $"CPUs {nowReserved} are now reserved for the host by the node profile"));
            }
        }

        return found;
    }
}
