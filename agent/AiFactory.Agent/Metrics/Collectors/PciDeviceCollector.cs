using System.Globalization;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>
/// PCI functions from the discovered topology, whatever driver holds them: what no GPU exporter shows, GPUs
/// bound to vfio-pci with their PCIe link and AER counters, vfio-bound devices, and VFs per SR-IOV PF.
/// Devices shown: GPUs, NICs, NVMe, NVSwitches, and every vfio-bound function; bridges and the rest are left out.
/// </summary>
internal sealed class PciDeviceCollector : IMetricsCollector
{
    public const string VfioDriver = "vfio-pci";

    public string Name => "pci";

    public void Collect(ScrapeContext context, ExpositionWriter writer)
    {
        NodeSnapshot node = context.Node ?? throw new InvalidOperationException("no node snapshot source");
        var shown = new List<(PciDevice Device, string Address)>();
        foreach (PciDevice device in node.Topology.PciDevices)
        {
            if (IsShown(device))
            {
                shown.Add((device, device.Address.ToString()));
            }
        }

        foreach ((PciDevice d, string address) in shown)
        {
            writer.Sample(MetricNames.Pci.DeviceInfo,
            [
                address, KindLabel(d.Kind), Hex(d.VendorId), Hex(d.DeviceId), d.Driver,
                d.NumaNode?.ToString(CultureInfo.InvariantCulture), d.IommuGroup?.ToString(CultureInfo.InvariantCulture),
                d.PhysicalFunction?.ToString(),
            ], 1);
        }

        WriteLink(writer, shown, MetricNames.Pci.LinkSpeed, l => l.CurrentSpeedGts);
        WriteLink(writer, shown, MetricNames.Pci.LinkMaxSpeed, l => l.MaxSpeedGts);
        WriteLink(writer, shown, MetricNames.Pci.LinkWidth, l => l.CurrentWidth);
        WriteLink(writer, shown, MetricNames.Pci.LinkMaxWidth, l => l.MaxWidth);
        foreach ((PciDevice d, string address) in shown)
        {
            if (d.Link is not null && d.FacesUpstream)
            {
                writer.Sample(MetricNames.Pci.LinkDegraded, [address], d.IsLinkDegraded ? 1 : 0);
            }
        }

        foreach ((PciDevice d, string address) in shown)
        {
            if (d.Link is { } link && d.FacesUpstream)
            {
                writer.Sample(MetricNames.Pci.LinkSpeedReduced, [address], link.IsSpeedReduced ? 1 : 0);
            }
        }

        foreach ((PciDevice d, string address) in shown)
        {
            if (node.Aer.TryGetValue(d.Address, out AerCounters? aer))
            {
                WriteAer(writer, address, "correctable", aer.Correctable);
                WriteAer(writer, address, "nonfatal", aer.NonFatal);
                WriteAer(writer, address, "fatal", aer.Fatal);
            }
        }

        // vfio-bound functions by kind; the GPU count is always written, so "none" reads as 0, not as absent.
        var vfioByKind = new SortedDictionary<string, int>(StringComparer.Ordinal) { [KindLabel(DeviceKind.Gpu)] = 0 };
        foreach (PciDevice d in node.Topology.PciDevices)
        {
            if (d.Driver == VfioDriver)
            {
                string kind = KindLabel(d.Kind);
                vfioByKind[kind] = vfioByKind.GetValueOrDefault(kind) + 1;
            }
        }

        foreach ((string kind, int count) in vfioByKind)
        {
            writer.Sample(MetricNames.Pci.VfioBoundDevices, [kind], count);
        }

        foreach (PciDevice d in node.Topology.PciDevices)
        {
            if (d.Sriov is { } sriov)
            {
                writer.Sample(MetricNames.Pci.SriovVfs, [d.Address.ToString(), KindLabel(d.Kind)], sriov.NumVfs);
            }
        }

        foreach (PciDevice d in node.Topology.PciDevices)
        {
            if (d.Sriov is { } sriov)
            {
                writer.Sample(MetricNames.Pci.SriovMaxVfs, [d.Address.ToString(), KindLabel(d.Kind)], sriov.TotalVfs);
            }
        }
    }

    /// <summary>GPUs, NICs, NVMe and NVSwitch physical functions, plus any function bound to vfio-pci.</summary>
    public static bool IsShown(PciDevice device) =>
        device.Driver == VfioDriver ||
        (!device.IsVirtualFunction && device.Kind is DeviceKind.Gpu or DeviceKind.Nic or DeviceKind.Nvme or DeviceKind.NvSwitch);

    /// <summary>The <c>kind</c> label: the lower-case device kind (gpu, nic, nvme, ...).</summary>
    public static string KindLabel(DeviceKind kind) => kind switch
    {
        DeviceKind.Gpu => "gpu",
        DeviceKind.GpuAudio => "gpu_audio",
        DeviceKind.Nic => "nic",
        DeviceKind.Nvme => "nvme",
        DeviceKind.Bridge => "bridge",
        DeviceKind.NvSwitch => "nvswitch",
        DeviceKind.Storage => "storage",
        _ => "other",
    };

    private static string Hex(ushort id) => "0x" + id.ToString("x4", CultureInfo.InvariantCulture);

    private static void WriteLink(ExpositionWriter writer, List<(PciDevice Device, string Address)> shown, MetricFamily family, Func<PcieLink, double?> read)
    {
        foreach ((PciDevice d, string address) in shown)
        {
            if (d.Link is { } link && read(link) is { } value)
            {
                writer.Sample(family, [address], value);
            }
        }
    }

    private static void WriteAer(ExpositionWriter writer, string address, string severity, IReadOnlyList<KeyValuePair<string, long>> counters)
    {
        foreach ((string name, long count) in counters)
        {
            writer.Sample(MetricNames.Pci.AerErrors, [address, severity, name], count);
        }
    }
}
