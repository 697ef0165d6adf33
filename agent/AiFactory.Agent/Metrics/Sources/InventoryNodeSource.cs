using AiFactory.Agent.Inventory;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Agent.Metrics.Sources;

/// <summary>
/// The node for a scrape: the inventory's last discovered topology (no rediscovery per scrape) plus the AER
/// counters of the devices the PCI collector shows, read fresh from sysfs, and the CPUs the node profile keeps for
/// the host (the same <see cref="Leases.ILeaseHost.HostReservedCpus"/> the lease planner uses).
/// </summary>
internal sealed class InventoryNodeSource : INodeSnapshotSource
{
    private readonly Func<HostTopology> _topology;
    private readonly PciAerReader _aer;
    private readonly Func<CpuSet>? _hostReserved;

    public InventoryNodeSource(InventoryService inventory, string sysfsRoot, Leases.ILeaseHost? leaseHost = null)
        : this(() => inventory.Current, sysfsRoot, leaseHost is null ? null : () => leaseHost.HostReservedCpus)
    {
    }

    internal InventoryNodeSource(Func<HostTopology> topology, string sysfsRoot, Func<CpuSet>? hostReserved = null)
    {
        _topology = topology;
        _aer = new PciAerReader(new SysfsRoot(sysfsRoot));
        _hostReserved = hostReserved;
    }

    public NodeSnapshot Read()
    {
        HostTopology topology = _topology();
        var aer = new Dictionary<PciAddress, AerCounters>();
        var unreadable = new DiscoveryWarnings(); // an unreadable AER file leaves that device's counters out of this scrape
        foreach (PciDevice device in topology.PciDevices)
        {
            if (PciDeviceCollector.IsShown(device) && _aer.Read(device.Address, unreadable) is { } counters)
            {
                aer[device.Address] = counters;
            }
        }

        return new NodeSnapshot { Topology = topology, Aer = aer, HostReservedCpus = _hostReserved?.Invoke() ?? CpuSet.Empty };
    }
}
