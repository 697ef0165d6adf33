using System.Collections.Concurrent;
using AiFactory.Agent.Inventory;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Agent.Metrics.Sources;

/// <summary>
/// The node for a scrape: the inventory's last discovered topology (no rediscovery per scrape) plus the AER
/// counters of the devices the PCI collector shows, read fresh from sysfs, and the CPUs the node profile keeps for
/// the host (the same <see cref="Leases.ILeaseHost.HostReservedCpus"/> the lease planner uses).
/// An AER file that cannot be read or parsed costs only that device's AER counters in that scrape: the snapshot is
/// shared by the pci, numa and lease collectors, so one bad file must not fail them all. A malformed file is logged
/// once per distinct problem (file, device and raw line), not at every scrape.
/// </summary>
internal sealed partial class InventoryNodeSource : INodeSnapshotSource
{
    // Problems remembered as logged; a file whose malformed line keeps changing cannot grow the set without end.
    private const int MaxLoggedProblems = 256;

    private readonly Func<HostTopology> _topology;
    private readonly PciAerReader _aer;
    private readonly Func<CpuSet>? _hostReserved;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, bool> _logged = new(StringComparer.Ordinal);

    public InventoryNodeSource(InventoryService inventory, string sysfsRoot, Leases.ILeaseHost? leaseHost, ILogger logger)
        : this(() => inventory.Current, sysfsRoot, leaseHost is null ? null : () => leaseHost.HostReservedCpus, logger)
    {
    }

    internal InventoryNodeSource(Func<HostTopology> topology, string sysfsRoot, Func<CpuSet>? hostReserved = null, ILogger? logger = null)
    {
        _topology = topology;
        _aer = new PciAerReader(new SysfsRoot(sysfsRoot));
        _hostReserved = hostReserved;
        _logger = logger ?? NullLogger.Instance;
    }

    public NodeSnapshot Read()
    {
        HostTopology topology = _topology();
        var aer = new Dictionary<PciAddress, AerCounters>();
        var unreadable = new DiscoveryWarnings(); // an unreadable AER file leaves that device's counters out of this scrape
        foreach (PciDevice device in topology.PciDevices)
        {
            if (!PciDeviceCollector.IsShown(device))
            {
                continue;
            }

            try
            {
                if (_aer.Read(device.Address, unreadable) is { } counters)
                {
                    aer[device.Address] = counters;
                }
            }
            catch (FormatException ex)
            {
                // The message names the file, the device and the raw line; a problem that stays is logged once.
                if (_logged.Count < MaxLoggedProblems && _logged.TryAdd(ex.Message, true))
                {
                    LogAerUnparsable(_logger, ex.Message);
                }
            }
        }

        return new NodeSnapshot { Topology = topology, Aer = aer, HostReservedCpus = _hostReserved?.Invoke() ?? CpuSet.Empty };
    }

    [LoggerMessage(EventId = EventIds.MetricsAerUnparsable, Level = LogLevel.Warning,
        Message = "Metrics: AER counters left out until the file parses: {Reason}")]
    private static partial void LogAerUnparsable(ILogger logger, string reason);
}
