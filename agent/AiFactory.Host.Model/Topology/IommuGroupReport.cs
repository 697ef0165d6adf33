using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Topology;

/// <summary>
/// What an IOMMU group means for passthrough: vfio-pci takes a whole group, so every endpoint in it goes to the
/// guest together. Bridges in a group stay with the host (vfio tolerates them) but show that the platform lacks
/// ACS isolation there.
/// </summary>
/// <param name="Id">The group number.</param>
/// <param name="Members">Every function in the group.</param>
/// <param name="Endpoints">The non-bridge functions: what must be bound to vfio-pci together.</param>
/// <param name="Bridges">Bridges and root ports in the group.</param>
/// <param name="HostNeeded">
/// Endpoints the host itself needs (<see cref="HostTopology.HostNeeded"/>: the boot disk's controller, the management
/// NIC): moving the group takes them away, and the profile refuses to.
/// </param>
public sealed record IommuGroupReport(
    int Id,
    IReadOnlyList<PciAddress> Members,
    IReadOnlyList<PciAddress> Endpoints,
    IReadOnlyList<PciAddress> Bridges,
    IReadOnlyList<PciAddress> HostNeeded)
{
    /// <summary>True when the group holds exactly one endpoint: it can go to vfio-pci alone.</summary>
    public bool IsIsolated => Endpoints.Count == 1;

    /// <summary>True when the group also holds bridges (no ACS below them).</summary>
    public bool HasBridges => Bridges.Count > 0;

    /// <summary>The reports of every group of <paramref name="topology"/>.</summary>
    public static IReadOnlyList<IommuGroupReport> Analyze(HostTopology topology)
    {
        var reports = new List<IommuGroupReport>(topology.IommuGroups.Count);
        foreach (IommuGroup g in topology.IommuGroups)
        {
            reports.Add(For(topology, g));
        }

        return reports;
    }

    /// <summary>The report for one group.</summary>
    public static IommuGroupReport For(HostTopology topology, IommuGroup group)
    {
        var endpoints = new List<PciAddress>();
        var bridges = new List<PciAddress>();
        var hostNeeded = new List<PciAddress>();
        foreach (PciAddress a in group.Members)
        {
            PciDevice? d = topology.FindDevice(a);
            if (d is not null && d.Kind == DeviceKind.Bridge)
            {
                bridges.Add(a);
                continue;
            }

            endpoints.Add(a);
            if (topology.HostNeeded.ContainsKey(a))
            {
                hostNeeded.Add(a);
            }
        }

        return new IommuGroupReport(group.Id, group.Members, endpoints, bridges, hostNeeded);
    }

    /// <summary>
    /// The companions that must go to vfio-pci with <paramref name="device"/> (the other endpoints of its group,
    /// e.g. a GPU's HD-audio function); empty when the device is alone or has no IOMMU group.
    /// </summary>
    public static IReadOnlyList<PciAddress> CompanionsOf(HostTopology topology, PciAddress device)
    {
        PciDevice? d = topology.FindDevice(device);
        if (d?.IommuGroup is not { } id)
        {
            return [];
        }

        foreach (IommuGroup g in topology.IommuGroups)
        {
            if (g.Id == id)
            {
                var companions = new List<PciAddress>();
                foreach (PciAddress e in For(topology, g).Endpoints)
                {
                    if (e != device)
                    {
                        companions.Add(e);
                    }
                }

                return companions;
            }
        }

        return [];
    }
}
