using System.Globalization;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Planning.Vfio;

namespace AiFactory.Host.Planning.Profile;

/// <summary>
/// What may not go to vfio-pci itself, whatever its IOMMU group: bridges (a host bridge, a root or switch port: the
/// devices behind them lose their path), a PF with live VFs (unbinding it destroys them, and a rollback does not make
/// them again), a VF whose PF's VF count the same profile changes (the VF is destroyed and made anew, on the host
/// driver), and a GPU that runs compute processes (when NVML can tell).
/// </summary>
public static partial class ProfilePlanner
{
    private sealed partial class Context
    {
        /// <summary>Why <paramref name="device"/> may not be bound to vfio-pci, or null.</summary>
        private string? TargetRefusal(PciDevice device, Dictionary<PciAddress, int> sriovPfs)
        {
            if (VfioTarget.IsBridge(device))
            {
                string driver = device.Driver is { } d ? $", driver {d}" : string.Empty;
                return $"{device.Address} is {BridgeName(device.ClassCode)} (class 0x{device.ClassCode.ToString("x6", CultureInfo.InvariantCulture)}{driver}): " +
                    "the devices behind it would lose their path to the host; a bridge is never a vfio-pci target";
            }

            if (IsBound(device))
            {
                return null;
            }

            if (VfioTarget.LiveVfs(device) is int live and > 0)
            {
                return $"{device.Address} is an SR-IOV PF with {live} live VFs (sriov_numvfs {live}): unbinding it destroys them, and a rollback would not make them again; " +
                    "set its numVfs to 0 first (an sriov entry, applied on its own), then bind it";
            }

            if (device.PhysicalFunction is { } pf && sriovPfs.TryGetValue(pf, out int j) && Find(pf)?.Sriov is { } pfSriov && pfSriov.NumVfs != profile.Sriov[j].NumVfs)
            {
                return $"{device.Address} is a VF of {pf}, whose VF count sriov[{j}].numVfs changes ({pfSriov.NumVfs} -> {profile.Sriov[j].NumVfs}): the VFs are destroyed and made anew on the host driver, " +
                    $"so this binding would not last; bind them with sriov[{j}].vfDriver: vfio-pci instead";
            }

            return null;
        }

        /// <summary>
        /// A GPU about to be unbound from its driver: refused while NVML reports compute processes on it; a warning
        /// when NVML could not be asked. Listed in <see cref="ProfilePlan.GpusUnbound"/> (the agent asks NVML only then).
        /// </summary>
        private string? GpuInUse(PciDevice device)
        {
            if (device.Kind != DeviceKind.Gpu)
            {
                return null;
            }

            _gpusUnbound.Add(device.Address);
            if (current.GpuProcesses.TryGetValue(device.Address, out IReadOnlyList<string>? processes) && processes.Count > 0)
            {
                return $"{device.Address} is in use by {string.Join(", ", processes)}: stop them before it is unbound from {device.Driver ?? "its driver"}";
            }

            if (current.GpuProcessesUnavailable is { } why)
            {
                _warnings.Add($"vfio: could not check {device.Address} for running processes before unbinding it: {why}");
            }

            return null;
        }

        private static bool IsBound(PciDevice device) => device.Driver == VfioPci && device.DriverOverride == VfioPci;

        private static string BridgeName(uint classCode) => (classCode >> 8) switch
        {
            0x0600 => "a host bridge",
            0x0601 => "an ISA bridge",
            0x0604 => "a PCI bridge (a root port or PCIe switch port)",
            0x0609 => "a PCI bridge (semi-transparent)",
            _ => "a bridge",
        };
    }
}
