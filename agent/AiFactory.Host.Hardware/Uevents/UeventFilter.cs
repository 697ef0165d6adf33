namespace AiFactory.Host.Hardware.Uevents;

/// <summary>Which uevents can change what Discovery reads (PCI functions, drivers, NICs, CPUs, memory, NUMA nodes).</summary>
public static class UeventFilter
{
    private static readonly HashSet<string> Subsystems = new(StringComparer.Ordinal)
    {
        "pci", "pci_bus", "net", "infiniband", "infiniband_verbs", "cpu", "memory", "node", "hugepages", "vfio", "iommu", "iommu_groups",
    };

    /// <summary>
    /// True when <paramref name="uevent"/>'s SUBSYSTEM is one Discovery reads; a uevent without SUBSYSTEM counts
    /// when its DEVPATH is under <c>/devices/pci</c> or <c>/devices/system/{cpu,memory,node}</c>.
    /// </summary>
    public static bool AffectsInventory(Uevent uevent)
    {
        if (uevent.Subsystem is { } subsystem)
        {
            return Subsystems.Contains(subsystem);
        }

        string p = uevent.DevPath;
        return p.StartsWith("/devices/pci", StringComparison.Ordinal) ||
            p.StartsWith("/devices/system/cpu", StringComparison.Ordinal) ||
            p.StartsWith("/devices/system/memory", StringComparison.Ordinal) ||
            p.StartsWith("/devices/system/node", StringComparison.Ordinal);
    }
}
