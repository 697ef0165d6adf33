using AiFactory.Agent.Gpu;
using AiFactory.Agent.Inventory;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The daemon's <see cref="ILeaseHost"/>: the topology from the inventory (discovery), the host-reserved CPUs from the
/// stored node profile (<see cref="ProfileManager.Stored"/>, read once per <see cref="ReadHostReservedCpus"/>) (<c>cpus.reserved</c>; empty without a profile; the last good set while the profile does not
/// parse, see <see cref="Leases.HostReservedCpus"/>), the free MIG placements from NVML (read per request: each
/// MIG-enabled GPU's profiles less the placements existing instances overlap), the unhealthy GPUs from the health
/// watcher's registry, and the GPUs' NVML names (read once per GPU: a GPU bound to vfio-pci is gone from NVML, so
/// names already read are kept), and the compute processes on each GPU from NVML (read per grant of whole GPUs, by the
/// node profile's reader, <see cref="ProfileMig.ReadProcesses"/>).
/// </summary>
internal sealed class DaemonLeaseHost(
    InventoryService inventory, Func<(string Yaml, string Source)?> storedProfile, ILogger logger, MigApplier? mig = null, GpuHealthRegistry? health = null, GpuNvml? nvml = null,
    Func<(IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> Processes, string? Unavailable)>? processes = null) : ILeaseHost
{
    private readonly HostReservedCpus _reserved = new(logger);
    private readonly Lock _namesGate = new();
    private readonly Dictionary<PciAddress, string> _names = [];
    private uint _namesReadFrom;

    public HostTopology? Topology => inventory.Current;

    public CpuSet HostReservedCpus => ReadHostReservedCpus().Cpus;

    public string? HostReservedCpusUnknown => ReadHostReservedCpus().Unknown;

    /// <summary>One read of the stored node profile per call: the set and whether it is known, together.</summary>
    public ReservedCpus ReadHostReservedCpus() => _reserved.Update(storedProfile());

    public IReadOnlyList<MigCapacity> MigCapacity => mig?.Capacity() ?? [];

    public IReadOnlySet<PciAddress> UnhealthyGpus => health?.Unhealthy() ?? StaticLeaseHost.NoGpus;

    public (IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> Processes, string? Unavailable) ReadGpuProcesses() =>
        processes?.Invoke() ?? (StaticLeaseHost.NoProcesses, "this agent has no NVML layer");

    public IReadOnlyDictionary<PciAddress, string> GpuNames
    {
        get
        {
            if (nvml?.Nvml is not INvml api)
            {
                return StaticLeaseHost.NoNames;
            }

            lock (_namesGate)
            {
                // Read again only when NVML sees a different number of GPUs than last time (one call otherwise).
                uint count = api.DeviceCount;
                if (count != _namesReadFrom)
                {
                    _namesReadFrom = count;
                    for (uint i = 0; i < count; i++)
                    {
                        try
                        {
                            NvmlDevice device = api.GetDevice(i);
                            _names[GpuInventory.Address(api, device)] = api.GetName(device);
                        }
                        catch (Exception ex) when (ex is NvmlException or FormatException)
                        {
                            // A GPU NVML cannot name is matched by its pci.ids name and ids only.
                        }
                    }
                }

                return new Dictionary<PciAddress, string>(_names);
            }
        }
    }
}
