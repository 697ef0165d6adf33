using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The PCI functions the host cannot give away, found without being told: the boot disk (the device mounted on
/// <c>/</c> in procfs <c>self/mounts</c> → sysfs <c>class/block/NAME</c>, through device-mapper <c>slaves/</c> →
/// the PCI function in its device path) and the management NIC (the default route's interface in procfs
/// <c>net/route</c> → sysfs <c>class/net/IFACE</c>, through bond/VLAN <c>lower_*</c> links and bridge <c>brif/</c>).
/// </summary>
public sealed class HostNeededDevices(SysfsTree sysfs, string procfsRoot)
{
    /// <summary>Each host-needed PCI function and why ("the boot disk: /dev/nvme0n1p2 is mounted on /").</summary>
    public IReadOnlyDictionary<PciAddress, string> Read()
    {
        var result = new SortedDictionary<PciAddress, string>();
        if ((ReadProc("self/mounts") ?? ReadProc("mounts")) is { } mounts && MountsParser.RootDevice(mounts) is { } root)
        {
            foreach (PciAddress a in BlockFunctions(BlockName(root), 0))
            {
                result.TryAdd(a, $"the boot disk ({root} is mounted on /)");
            }
        }

        if (ReadProc("net/route") is { } route && NetRouteParser.DefaultRouteInterface(route) is { } iface)
        {
            foreach (PciAddress a in NetFunctions(iface, 0))
            {
                result.TryAdd(a, $"the management NIC ({iface} carries the default route)");
            }
        }

        return result;
    }

    private string? ReadProc(string relative)
    {
        string path = Path.Join(procfsRoot, relative);
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>"/dev/nvme0n1p2" → "nvme0n1p2"; "/dev/mapper/vg-root" → the dm-N whose <c>dm/name</c> is vg-root.</summary>
    private string? BlockName(string device)
    {
        if (device.StartsWith("/dev/mapper/", StringComparison.Ordinal))
        {
            string name = device["/dev/mapper/".Length..];
            return sysfs.List("class/block").FirstOrDefault(b => b.StartsWith("dm-", StringComparison.Ordinal) && sysfs.Read($"class/block/{b}/dm/name") == name);
        }

        return device.StartsWith("/dev/", StringComparison.Ordinal) ? device[5..] : null;
    }

    private IEnumerable<PciAddress> BlockFunctions(string? name, int depth)
    {
        if (name is null || depth > 8 || name.Contains('/'))
        {
            return [];
        }

        if (LastPciAddress($"class/block/{name}") is PciAddress a)
        {
            return [a];
        }

        // device-mapper, md: the devices underneath.
        return sysfs.List($"class/block/{name}/slaves").SelectMany(s => BlockFunctions(s, depth + 1)).ToList();
    }

    private IEnumerable<PciAddress> NetFunctions(string iface, int depth)
    {
        if (depth > 8 || iface.Contains('/'))
        {
            return [];
        }

        if (LastPciAddress($"class/net/{iface}") is PciAddress a)
        {
            return [a];
        }

        string dir = $"class/net/{iface}";
        IEnumerable<string> lower = sysfs.List(dir).Where(n => n.StartsWith("lower_", StringComparison.Ordinal)).Select(n => n[6..]);
        return lower.Concat(sysfs.List(dir + "/brif")).SelectMany(l => NetFunctions(l, depth + 1)).ToList();
    }

    /// <summary>The last PCI address in a class link's target (../../devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1).</summary>
    private PciAddress? LastPciAddress(string classLink)
    {
        string path = SysfsPath.Combine(sysfs.Root, classLink);
        string? target;
        try
        {
            target = new FileInfo(path).LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        PciAddress? last = null;
        foreach (string part in (target ?? string.Empty).Split('/'))
        {
            if (PciAddress.TryParse(part, out PciAddress a))
            {
                last = a;
            }
        }

        return last;
    }
}
