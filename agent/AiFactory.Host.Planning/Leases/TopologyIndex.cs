using System.Runtime.CompilerServices;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Vfio;

namespace AiFactory.Host.Planning.Leases;

/// <summary>
/// Lookups over one <see cref="HostTopology"/> that every plan needs: CPUs, nodes and devices by id, each device's
/// IOMMU-group companions. A topology is immutable (a rescan builds a new one), so the index is built once per
/// topology and kept beside it for as long as the topology lives; planning stays a pure function of its inputs.
/// </summary>
internal sealed class TopologyIndex
{
    private static readonly ConditionalWeakTable<HostTopology, TopologyIndex> Cache = [];

    private readonly Dictionary<PciAddress, PciDevice> _devices = [];
    private readonly Dictionary<PciAddress, IReadOnlyList<PciDevice>> _companions = [];

    private TopologyIndex(HostTopology topology)
    {
        foreach (LogicalCpu cpu in topology.Cpus.Cpus)
        {
            CpuById[cpu.Id] = cpu;
            CpuIdBound = Math.Max(CpuIdBound, cpu.Id + 1);
            foreach (int sibling in cpu.ThreadSiblings)
            {
                CpuIdBound = Math.Max(CpuIdBound, sibling + 1);
            }

            ThreadsPerCore = Math.Max(ThreadsPerCore, cpu.ThreadSiblings.Count);
        }

        foreach (int online in topology.Cpus.Online)
        {
            CpuIdBound = Math.Max(CpuIdBound, online + 1);
        }

        foreach (NumaNode n in topology.NumaNodes)
        {
            Nodes[n.Id] = n;
        }

        foreach (PciDevice d in topology.PciDevices)
        {
            _devices.TryAdd(d.Address, d);
        }

        var groups = new Dictionary<int, IommuGroup>();
        foreach (IommuGroup g in topology.IommuGroups)
        {
            groups.TryAdd(g.Id, g);
        }

        foreach (PciDevice d in topology.PciDevices)
        {
            if (d.IommuGroup is not { } id || !groups.TryGetValue(id, out IommuGroup? group))
            {
                continue;
            }

            var companions = new List<PciDevice>();
            foreach (PciAddress member in group.Members)
            {
                if (member != d.Address && _devices.TryGetValue(member, out PciDevice? c) && !VfioTarget.IsBridge(c))
                {
                    companions.Add(c);
                }
            }

            if (companions.Count > 0)
            {
                _companions[d.Address] = companions;
            }
        }
    }

    /// <summary>Logical CPUs by id.</summary>
    public Dictionary<int, LogicalCpu> CpuById { get; } = [];

    /// <summary>One more than the largest CPU id the topology names (a size for per-CPU arrays).</summary>
    public int CpuIdBound { get; }

    /// <summary>NUMA nodes by id.</summary>
    public Dictionary<int, NumaNode> Nodes { get; } = [];

    /// <summary>Threads per core (the largest sibling set; 1 without SMT).</summary>
    public int ThreadsPerCore { get; } = 1;

    /// <summary>The index of <paramref name="topology"/>, built on first use.</summary>
    public static TopologyIndex Of(HostTopology topology) => Cache.GetValue(topology, static t => new TopologyIndex(t));

    /// <summary>The device at <paramref name="address"/>, or null.</summary>
    public PciDevice? Device(PciAddress address) => _devices.GetValueOrDefault(address);

    /// <summary>The other non-bridge members of a device's IOMMU group: they go to vfio-pci with it.</summary>
    public IReadOnlyList<PciDevice> Companions(PciAddress device) => _companions.TryGetValue(device, out IReadOnlyList<PciDevice>? c) ? c : [];
}
