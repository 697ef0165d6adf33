using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;

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
        var bridges = topology.PciDevices.Where(d => d.Kind == DeviceKind.Bridge || d.BaseClass == 0x06).Select(d => d.Address).ToHashSet();
        foreach (PciDevice device in topology.PciDevices.Where(d => profile.Vfio?.Devices.Any(s => s.Matches(d)) == true))
        {
            bound.Add(device.Address);
            if (device.IommuGroup is not int group)
            {
                continue;
            }

            IEnumerable<PciAddress> members = topology.IommuGroups.FirstOrDefault(g => g.Id == group)?.Members
                ?? topology.PciDevices.Where(d => d.IommuGroup == group).Select(d => d.Address);
            bound.UnionWith(members.Where(m => !bridges.Contains(m)));
        }

        foreach (SriovProfile entry in profile.Sriov.Where(e => e.VfDriver == "vfio-pci" && e.NumVfs > 0))
        {
            bound.UnionWith(topology.PciDevices.Where(d => d.PhysicalFunction == entry.PhysicalFunction).Select(d => d.Address));
        }

        return bound;
    }
}
