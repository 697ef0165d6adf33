using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// The GPUs sysfs shows bound to the <c>nvidia</c> driver: the ones NVML should answer for. One NVML has no handle or
/// bus id for is lost (or otherwise unreachable), even when NVML cannot say which index it had. GPUs bound to
/// vfio-pci (passed to guests) are not NVML's and are not listed.
/// </summary>
internal static class NvidiaSysfsGpus
{
    /// <summary>The addresses, sorted; empty when the tree has no <c>bus/pci/devices</c>.</summary>
    public static IReadOnlyList<PciAddress> Read(string sysfsRoot)
    {
        var root = new SysfsRoot(sysfsRoot);
        if (!root.Exists(PciDeviceReader.DevicesDirectory))
        {
            return [];
        }

        return [.. PciDeviceReader.ReadAll(root, new DiscoveryWarnings())
            .Where(d => d.VendorId == PciIds.Nvidia && d.Kind == DeviceKind.Gpu && d.Driver == "nvidia")
            .Select(d => d.Address)];
    }

    /// <summary>Those of <paramref name="sysfsGpus"/> that NVML gave no address for.</summary>
    public static IReadOnlyList<PciAddress> Unaccounted(IReadOnlyList<PciAddress> sysfsGpus, IEnumerable<PciAddress> nvmlAddresses)
    {
        var seen = nvmlAddresses.ToHashSet();
        return [.. sysfsGpus.Where(a => !seen.Contains(a))];
    }
}
