using System.Globalization;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>Reads <c>/sys/kernel/iommu_groups/N/devices</c>: the members of every IOMMU group.</summary>
public static class IommuGroupReader
{
    /// <summary>The directory read.</summary>
    public const string Directory = "kernel/iommu_groups";

    /// <summary>Every group, by number; empty without an IOMMU.</summary>
    public static IReadOnlyList<IommuGroup> ReadAll(SysfsRoot root, DiscoveryWarnings warnings)
    {
        var groups = new List<IommuGroup>();
        foreach (string name in root.List(Directory, warnings))
        {
            if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            {
                warnings.Add(SysfsRoot.DisplayPath(Directory + "/" + name), name, "not an IOMMU group number; ignored");
                continue;
            }

            var members = new List<PciAddress>();
            foreach (string member in root.List(Directory + "/" + name + "/devices", warnings))
            {
                if (PciAddress.TryParse(member, out PciAddress a))
                {
                    members.Add(a);
                }
                else
                {
                    warnings.Add(SysfsRoot.DisplayPath(Directory + "/" + name + "/devices/" + member), member, "group member is not a PCI address; ignored");
                }
            }

            members.Sort();
            groups.Add(new IommuGroup(id, members));
        }

        groups.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        return groups;
    }
}
