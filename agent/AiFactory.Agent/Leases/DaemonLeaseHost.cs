using AiFactory.Agent.Inventory;
using AiFactory.Agent.Profile;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The daemon's <see cref="ILeaseHost"/>: the topology from the inventory (discovery), the host-reserved CPUs from the
/// stored node profile (<c>cpus.reserved</c>; empty without a profile), the free MIG placements from NVML (read
/// per request: each MIG-enabled GPU's profiles less the placements existing instances overlap).
/// </summary>
internal sealed class DaemonLeaseHost(InventoryService inventory, ProfileManager profiles, Gpu.MigApplier? mig = null) : ILeaseHost
{
    private readonly Lock _gate = new();
    private string? _profileText;
    private CpuSet _reserved = CpuSet.Empty;

    public HostTopology? Topology => inventory.Current;

    public CpuSet HostReservedCpus
    {
        get
        {
            (string Yaml, string Source)? stored = profiles.Stored();
            lock (_gate)
            {
                if (stored?.Yaml != _profileText)
                {
                    _profileText = stored?.Yaml;
                    _reserved = Parse(_profileText);
                }

                return _reserved;
            }
        }
    }

    public IReadOnlyList<MigCapacity> MigCapacity => mig?.Capacity() ?? [];

    private static CpuSet Parse(string? yaml)
    {
        if (yaml is null)
        {
            return CpuSet.Empty;
        }

        try
        {
            NodeProfile profile = ProfileYaml.Parse(yaml);
            return profile.Cpus?.Reserved ?? CpuSet.Empty;
        }
        catch (ProfileFormatException)
        {
            return CpuSet.Empty;
        }
    }
}
