using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>
/// Leases: how many by state, each one with its VM, the host-BDF ↔ lease ↔ VM map, CPUs held, and whether a
/// lease's CPUs or memory sit on a NUMA node none of its devices is on (NUMA misalignment).
/// </summary>
internal sealed class LeaseCollector : IMetricsCollector
{
    /// <summary>
    /// The lease states that hold resources, always written (<see cref="LedgerLeaseSource"/>: ended leases are left
    /// out); a lease being granted (or left granting by a crash) adds a <c>granting</c> series while there is one.
    /// </summary>
    private static readonly string[] HeldStates =
        [nameof(LeaseState.Active).ToLowerInvariant(), nameof(LeaseState.Attached).ToLowerInvariant()];

    public string Name => "leases";

    public void Collect(ScrapeContext context, ExpositionWriter writer)
    {
        IReadOnlyList<LeaseSnapshot> leases = context.Leases;
        HostTopology? topology = context.Node?.Topology;

        // The states that hold resources are always written, so "no leases" reads as 0, not as an absent series.
        var byState = new SortedDictionary<string, int>(StringComparer.Ordinal)
        {
            [HeldStates[0]] = 0,
            [HeldStates[1]] = 0,
        };
        foreach (LeaseSnapshot lease in leases)
        {
            byState[lease.State] = byState.GetValueOrDefault(lease.State) + 1;
        }

        foreach ((string state, int count) in byState)
        {
            writer.Sample(MetricNames.Leases.Count, [state], count);
        }

        foreach (LeaseSnapshot lease in leases)
        {
            writer.Sample(MetricNames.Leases.Info, [lease.Id, lease.VmName, lease.State], 1);
        }

        foreach (LeaseSnapshot lease in leases)
        {
            foreach (PciAddress address in lease.Devices)
            {
                PciDevice? device = topology?.FindDevice(address);
                string? kind = device is null ? null : PciDeviceCollector.KindLabel(device.Kind);
                writer.Sample(MetricNames.Leases.Device, [address.ToString(), lease.Id, lease.VmName, kind], 1);
            }
        }

        foreach (LeaseSnapshot lease in leases)
        {
            writer.Sample(MetricNames.Leases.Cpus, [lease.Id], lease.Cpus.Count);
        }

        if (topology is null)
        {
            return;
        }

        foreach (LeaseSnapshot lease in leases)
        {
            (bool cpu, bool memory)? misaligned = Misalignment(topology, lease);
            if (misaligned is { } m)
            {
                writer.Sample(MetricNames.Leases.NumaMisaligned, [lease.Id, "cpu"], m.cpu ? 1 : 0);
                writer.Sample(MetricNames.Leases.NumaMisaligned, [lease.Id, "memory"], m.memory ? 1 : 0);
            }
        }
    }

    /// <summary>
    /// Whether the lease's CPUs, and its memory (memory nodes and hugepages), lie on nodes other than its devices'
    /// nodes; null when none of its devices has a known NUMA node (nothing to align to).
    /// </summary>
    public static (bool Cpu, bool Memory)? Misalignment(HostTopology topology, LeaseSnapshot lease)
    {
        var deviceNodes = new HashSet<int>();
        foreach (PciAddress address in lease.Devices)
        {
            if (topology.FindDevice(address)?.NumaNode is { } n)
            {
                deviceNodes.Add(n);
            }
        }

        if (deviceNodes.Count == 0)
        {
            return null;
        }

        bool cpu = false;
        foreach (LogicalCpu c in topology.Cpus.Cpus)
        {
            if (lease.Cpus.Contains(c.Id) && !deviceNodes.Contains(c.NumaNode))
            {
                cpu = true;
                break;
            }
        }

        bool memory = lease.MemoryNumaNodes.Any(n => !deviceNodes.Contains(n)) ||
            lease.Hugepages.Any(h => h.Pages > 0 && !deviceNodes.Contains(h.NumaNode));
        return (cpu, memory);
    }
}
