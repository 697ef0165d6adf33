using AiFactory.Host.Hardware.Vfio;

namespace AiFactory.Profile.Tests.Kernel;

/// <summary>The group-status answer computed from the fake tree, the kernel's rule: viable when every member is on vfio-pci or has no driver (bridges on pcieport allowed).</summary>
internal sealed class FakeVfioGroups(FakeSysfs fs) : IVfioGroupProbe
{
    public VfioGroupStatus GetStatus(int group)
    {
        string dir = fs.P($"kernel/iommu_groups/{group}/devices");
        if (!Directory.Exists(dir))
        {
            return new VfioGroupStatus(group, false, false, "open /dev/vfio/" + group + ": No such file or directory (errno 2)");
        }

        bool viable = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).All(a =>
            fs.DriverOf(AiFactory.Host.Model.Pci.PciAddress.Parse(a!)) is null or "vfio-pci" or "pcieport");
        return new VfioGroupStatus(group, viable, false, null);
    }
}
