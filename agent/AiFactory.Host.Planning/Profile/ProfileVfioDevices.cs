using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Vfio;

namespace AiFactory.Host.Planning.Profile;

/// <summary>
/// The PCI functions a node profile puts on vfio-pci on a host, as <see cref="ProfilePlanner"/> binds them: each
/// device a <c>vfio.devices</c> selector matches, with the other members of its IOMMU group (bridges excepted: a
/// group holding one is refused), and every VF of an <c>sriov</c> entry with <c>vfDriver: vfio-pci</c>. A pure
/// function of the profile and the topology; the lease reconciliation at start does not report these as devices on
/// vfio-pci that no lease holds.
/// </summary>
public static class ProfileVfioDevices
{
    /// <summary>The functions <paramref name="profile"/> binds to vfio-pci on <paramref name="topology"/>.</summary>
    public static IReadOnlySet<PciAddress> Of(NodeProfile profile, HostTopology topology)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(topology);
        var bound = new HashSet<PciAddress>();
        if (profile.Vfio is { } vfio)
        {
            foreach (VfioMatch match in Select(vfio, topology, Groups(topology)).SelectMany(m => m))
            {
                bound.Add(match.Device.Address);
                bound.UnionWith(match.Members.Where(m => !match.Bridges.Contains(m)));
            }
        }

        foreach (SriovProfile entry in profile.Sriov.Where(e => e.VfDriver == "vfio-pci" && e.NumVfs > 0))
        {
            bound.UnionWith(topology.PciDevices.Where(d => d.PhysicalFunction == entry.PhysicalFunction).Select(d => d.Address));
        }

        return bound;
    }

    /// <summary>
    /// What each of <paramref name="vfio"/>'s <c>devices</c> selectors matches on <paramref name="topology"/>: one list
    /// per selector, in order (empty when it matches nothing), each device in topology order with its IOMMU group from
    /// <paramref name="groups"/>. Only the matching: the refusals (host-needed devices and groups, bridges, PFs with
    /// live VFs) are the planner's.
    /// </summary>
    internal static List<VfioMatch>[] Select(VfioProfile vfio, HostTopology topology, IReadOnlyDictionary<int, IReadOnlyList<PciAddress>> groups)
    {
        HashSet<PciAddress>? bridges = null;
        var matches = new List<VfioMatch>[vfio.Devices.Count];
        for (int i = 0; i < vfio.Devices.Count; i++)
        {
            matches[i] = [];
            foreach (PciDevice device in topology.PciDevices.Where(vfio.Devices[i].Matches))
            {
                IReadOnlyList<PciAddress> members = device.IommuGroup is int group && groups.TryGetValue(group, out IReadOnlyList<PciAddress>? m) ? m : [];
                bridges ??= [.. topology.PciDevices.Where(VfioTarget.IsBridge).Select(d => d.Address)];
                matches[i].Add(new VfioMatch(device, device.IommuGroup, members, members.Where(bridges.Contains).ToHashSet()));
            }
        }

        return matches;
    }

    /// <summary>
    /// The members of each IOMMU group: the topology's groups, or, where it lists none, the devices' own group numbers.
    /// </summary>
    internal static Dictionary<int, IReadOnlyList<PciAddress>> Groups(HostTopology topology)
    {
        var groups = new Dictionary<int, IReadOnlyList<PciAddress>>();
        foreach (IommuGroup g in topology.IommuGroups)
        {
            groups.TryAdd(g.Id, g.Members);
        }

        if (topology.IommuGroups.Count == 0)
        {
            foreach (IGrouping<int, PciDevice> g in topology.PciDevices.Where(d => d.IommuGroup is not null).GroupBy(d => d.IommuGroup!.Value))
            {
                groups[g.Key] = [.. g.Select(d => d.Address)];
            }
        }

        return groups;
    }

    /// <summary>One device a <c>vfio.devices</c> selector matches.</summary>
    /// <param name="Device">The device.</param>
    /// <param name="Group">Its IOMMU group, or null when it has none (the IOMMU is off).</param>
    /// <param name="Members">Every member of that group, the device and any bridge included, in the group's order; empty without a group.</param>
    /// <param name="Bridges">The members that are bridges (never bound; the planner refuses a group holding one).</param>
    internal sealed record VfioMatch(PciDevice Device, int? Group, IReadOnlyList<PciAddress> Members, IReadOnlySet<PciAddress> Bridges);
}
