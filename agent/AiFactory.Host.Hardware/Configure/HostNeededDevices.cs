using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The PCI functions the host cannot give away, found without being told: the boot disk (the device mounted on
/// <c>/</c> in procfs <c>self/mounts</c> → sysfs <c>class/block/NAME</c>, through device-mapper <c>slaves/</c> →
/// the PCI function in its device path) and the management NIC (the default route's interface in procfs
/// <c>net/route</c> → sysfs <c>class/net/IFACE</c>, through bond/VLAN <c>lower_*</c> links and bridge <c>brif/</c>).
/// </summary>
/// <remarks>
/// Both procfs files are read through <see cref="ProcfsTextFile"/> (never blocking, regular files only, at most
/// <see cref="MaxProcFileSize"/> bytes) and the sysfs side through <see cref="SysfsRoot"/>, so a fixture root's
/// containment applies and, inside a discovery, what is read there is part of the rescan's recording. Problems
/// become warnings naming the file. <see cref="HasChanged"/> re-reads the two procfs files for a rescan.
/// </remarks>
public sealed class HostNeededDevices
{
    /// <summary>The most of <c>self/mounts</c> or <c>net/route</c> read (some 20,000 mounts).</summary>
    public const int MaxProcFileSize = 4 << 20;

    private const string SelfMounts = "self/mounts";
    private const string Mounts = "mounts";
    private const string Route = "net/route";
    private const int MaxDepth = 8;

    private readonly SysfsRoot _sysfs;
    private readonly ProcfsRoot _procfs;
    private readonly byte[] _selfMountsPath;
    private readonly byte[] _mountsPath;
    private readonly byte[] _routePath;
    private readonly MountsParser.RootMountSink _rootMount = new(keepText: false);
    private readonly NetRouteParser.DefaultRouteSink _defaultRoute = new(keepText: false);
    private (ProcfsFileStatus, int, ulong)? _readMounts;
    private (ProcfsFileStatus, int, ulong)? _readRoute;

    /// <summary>Reads through <paramref name="sysfs"/> and <paramref name="procfs"/>.</summary>
    public HostNeededDevices(SysfsRoot sysfs, ProcfsRoot procfs)
    {
        _sysfs = sysfs;
        _procfs = procfs;
        _selfMountsPath = procfs.NativePath(SelfMounts);
        _mountsPath = procfs.NativePath(Mounts);
        _routePath = procfs.NativePath(Route);
    }

    /// <summary>Each host-needed PCI function and why ("the boot disk: /dev/nvme0n1p2 is mounted on /").</summary>
    public IReadOnlyDictionary<PciAddress, string> Read(DiscoveryWarnings warnings)
    {
        var result = new SortedDictionary<PciAddress, string>();
        var rootMount = new MountsParser.RootMountSink(keepText: true);
        (string file, ProcfsFileStatus status, int errno) = ScanMounts(rootMount);
        _readMounts = (status, errno, rootMount.Hash);
        Warn(file, status, errno, warnings);
        if (rootMount.Device is { } root)
        {
            foreach (PciAddress a in BlockFunctions(BlockName(root, warnings), 0, warnings))
            {
                result.TryAdd(a, $"the boot disk ({root} is mounted on /)");
            }
        }

        var defaultRoute = new NetRouteParser.DefaultRouteSink(keepText: true);
        status = ProcfsTextFile.ScanLines(_routePath, MaxProcFileSize, defaultRoute, out errno);
        _readRoute = (status, errno, defaultRoute.Hash);
        Warn(Route, status, errno, warnings);
        if (defaultRoute.Interface is { } iface)
        {
            foreach (PciAddress a in NetFunctions(iface, 0, warnings))
            {
                result.TryAdd(a, $"the management NIC ({iface} carries the default route)");
            }
        }

        return result;
    }

    /// <summary>
    /// True when the device mounted on <c>/</c> or the default route's interface is not what the last
    /// <see cref="Read"/> found (or the files now read differently: gone, unreadable); allocates nothing. What
    /// <see cref="Read"/> then looked up in sysfs is the caller's recording to compare.
    /// </summary>
    public bool HasChanged()
    {
        if (_readMounts is not { } mounts || _readRoute is not { } route)
        {
            return true;
        }

        (_, ProcfsFileStatus status, int errno) = ScanMounts(_rootMount);
        if ((status, errno, _rootMount.Hash) != mounts)
        {
            return true;
        }

        status = ProcfsTextFile.ScanLines(_routePath, MaxProcFileSize, _defaultRoute, out errno);
        return (status, errno, _defaultRoute.Hash) != route;
    }

    /// <summary>self/mounts, or mounts where a procfs has no self/.</summary>
    private (string File, ProcfsFileStatus Status, int Errno) ScanMounts(MountsParser.RootMountSink sink)
    {
        ProcfsFileStatus status = ProcfsTextFile.ScanLines(_selfMountsPath, MaxProcFileSize, sink, out int errno);
        if (status != ProcfsFileStatus.Missing)
        {
            return (SelfMounts, status, errno);
        }

        return (Mounts, ProcfsTextFile.ScanLines(_mountsPath, MaxProcFileSize, sink, out errno), errno);
    }

    private static void Warn(string file, ProcfsFileStatus status, int errno, DiscoveryWarnings warnings)
    {
        if (status is not (ProcfsFileStatus.Ok or ProcfsFileStatus.Missing))
        {
            warnings.Add(ProcfsRoot.DisplayPath(file), null, ProcfsTextFile.Describe(status, errno, MaxProcFileSize) + "; host-needed devices not found from it");
        }
    }

    /// <summary>"/dev/nvme0n1p2" → "nvme0n1p2"; "/dev/mapper/vg-root" → the dm-N whose <c>dm/name</c> is vg-root.</summary>
    private string? BlockName(string device, DiscoveryWarnings warnings)
    {
        if (device.StartsWith("/dev/mapper/", StringComparison.Ordinal))
        {
            string name = device["/dev/mapper/".Length..];
            return _sysfs.List("class/block", warnings).FirstOrDefault(b => b.StartsWith("dm-", StringComparison.Ordinal) && _sysfs.ReadAttribute($"class/block/{b}/dm/name", warnings) == name);
        }

        return device.StartsWith("/dev/", StringComparison.Ordinal) ? device[5..] : null;
    }

    private List<PciAddress> BlockFunctions(string? name, int depth, DiscoveryWarnings warnings)
    {
        if (name is null || depth > MaxDepth || !IsName(name))
        {
            return [];
        }

        if (LastPciAddress($"class/block/{name}", warnings) is PciAddress a)
        {
            return [a];
        }

        // device-mapper, md: the devices underneath.
        return [.. _sysfs.List($"class/block/{name}/slaves", warnings).SelectMany(s => BlockFunctions(s, depth + 1, warnings))];
    }

    private List<PciAddress> NetFunctions(string iface, int depth, DiscoveryWarnings warnings)
    {
        if (depth > MaxDepth || !IsName(iface))
        {
            return [];
        }

        string dir = $"class/net/{iface}";
        if (LastPciAddress(dir, warnings) is PciAddress a)
        {
            return [a];
        }

        IEnumerable<string> lower = _sysfs.List(dir, warnings).Where(n => n.StartsWith("lower_", StringComparison.Ordinal)).Select(n => n[6..]);
        return [.. lower.Concat(_sysfs.List(dir + "/brif", warnings)).SelectMany(l => NetFunctions(l, depth + 1, warnings))];
    }

    /// <summary>A single path component: what procfs or a listing names must not walk the tree (<c>../</c>).</summary>
    private static bool IsName(string name) => name.Length > 0 && name is not ("." or "..") && !name.Contains('/', StringComparison.Ordinal);

    /// <summary>The last PCI address on the way to where a class link lands (devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1).</summary>
    private PciAddress? LastPciAddress(string classLink, DiscoveryWarnings warnings)
    {
        PciAddress? last = null;
        foreach (string part in (_sysfs.ResolveLink(classLink, warnings) ?? string.Empty).Split('/'))
        {
            if (PciAddress.TryParse(part, out PciAddress a))
            {
                last = a;
            }
        }

        return last;
    }
}
