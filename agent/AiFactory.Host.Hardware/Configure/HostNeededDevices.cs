using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The PCI functions the host cannot give away, found without being told: the boot disk (the device mounted on
/// <c>/</c> in procfs <c>self/mounts</c> → sysfs <c>class/block/NAME</c>, through device-mapper <c>slaves/</c> →
/// the PCI function in its device path) and the management NIC (the interface of the IPv4 default route in procfs
/// <c>net/route</c> and that of the IPv6 default route in <c>net/ipv6_route</c> → sysfs <c>class/net/IFACE</c>,
/// through bond/VLAN <c>lower_*</c> links and bridge <c>brif/</c>).
/// </summary>
/// <remarks>
/// The procfs files are read through <see cref="ProcfsTextFile"/> (never blocking, regular files only, at most
/// <see cref="MaxProcFileSize"/> bytes) and the sysfs side through <see cref="SysfsRoot"/>, so a fixture root's
/// containment applies and, inside a discovery, what is read there is part of the rescan's recording. Problems
/// become warnings naming the file, and so does each route line that does not parse (with the line); on the live
/// <c>/proc</c>, so does finding no default route at all (a fixture may have none). An absent <c>net/ipv6_route</c>
/// is no warning: IPv6 may be disabled. <see cref="HasChanged"/> re-reads the procfs files for a rescan.
/// </remarks>
public sealed class HostNeededDevices
{
    /// <summary>The most of <c>self/mounts</c> or <c>net/route</c> read (some 20,000 mounts).</summary>
    public const int MaxProcFileSize = 4 << 20;

    private const string SelfMounts = "self/mounts";
    private const string Mounts = "mounts";
    private const string Route = "net/route";
    private const string Ipv6Route = "net/ipv6_route";
    private const int MaxDepth = 8;

    private readonly SysfsRoot _sysfs;
    private readonly ProcfsRoot _procfs;
    private readonly byte[] _selfMountsPath;
    private readonly byte[] _mountsPath;
    private readonly byte[] _routePath;
    private readonly byte[] _ipv6RoutePath;
    private readonly bool _expectDefaultRoute;
    private readonly MountsParser.RootMountSink _rootMount = new(keepText: false);
    private readonly NetRouteParser.DefaultRouteSink _defaultRoute = new(keepText: false, ipv6: false);
    private readonly NetRouteParser.DefaultRouteSink _defaultIpv6Route = new(keepText: false, ipv6: true);
    private (ProcfsFileStatus, int, ulong)? _readMounts;
    private RouteRead? _readRoute;
    private RouteRead? _readIpv6Route;

    /// <summary>Reads through <paramref name="sysfs"/> and <paramref name="procfs"/>.</summary>
    public HostNeededDevices(SysfsRoot sysfs, ProcfsRoot procfs)
        : this(sysfs, procfs, expectDefaultRoute: procfs.IsLive)
    {
    }

    /// <summary>As the public constructor; <paramref name="expectDefaultRoute"/> warns when neither table has a default route (the live /proc).</summary>
    internal HostNeededDevices(SysfsRoot sysfs, ProcfsRoot procfs, bool expectDefaultRoute)
    {
        _sysfs = sysfs;
        _procfs = procfs;
        _selfMountsPath = procfs.NativePath(SelfMounts);
        _mountsPath = procfs.NativePath(Mounts);
        _routePath = procfs.NativePath(Route);
        _ipv6RoutePath = procfs.NativePath(Ipv6Route);
        _expectDefaultRoute = expectDefaultRoute;
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

        var defaultRoute = new NetRouteParser.DefaultRouteSink(keepText: true, ipv6: false);
        RouteRead route = ScanRoutes(_routePath, defaultRoute);
        _readRoute = route;
        WarnRoutes(Route, route, defaultRoute, warnings);
        var defaultIpv6Route = new NetRouteParser.DefaultRouteSink(keepText: true, ipv6: true);
        RouteRead ipv6Route = ScanRoutes(_ipv6RoutePath, defaultIpv6Route);
        _readIpv6Route = ipv6Route;
        WarnRoutes(Ipv6Route, ipv6Route, defaultIpv6Route, warnings);

        if (_expectDefaultRoute && defaultRoute.Interface is null && defaultIpv6Route.Interface is null &&
            route.Status is ProcfsFileStatus.Ok or ProcfsFileStatus.Missing && ipv6Route.Status is ProcfsFileStatus.Ok or ProcfsFileStatus.Missing)
        {
            warnings.Add(ProcfsRoot.DisplayPath(Route), null, $"no default route, IPv4 or IPv6 (nor in {ProcfsRoot.DisplayPath(Ipv6Route)}): the management NIC is not known, so no NIC is kept from VMs as host-needed");
        }

        foreach ((string? iface, string family) in new[] { (defaultRoute.Interface, "default route"), (defaultIpv6Route.Interface, "IPv6 default route") })
        {
            if (iface is null)
            {
                continue;
            }

            foreach (PciAddress a in NetFunctions(iface, 0, warnings))
            {
                result.TryAdd(a, $"the management NIC ({iface} carries the {family})");
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
        if (_readMounts is not { } mounts || _readRoute is not { } route || _readIpv6Route is not { } ipv6Route)
        {
            return true;
        }

        (_, ProcfsFileStatus status, int errno) = ScanMounts(_rootMount);
        if ((status, errno, _rootMount.Hash) != mounts)
        {
            return true;
        }

        return ScanRoutes(_routePath, _defaultRoute) != route || ScanRoutes(_ipv6RoutePath, _defaultIpv6Route) != ipv6Route;
    }

    /// <summary>Reads a route table into <paramref name="sink"/>; what a rescan compares.</summary>
    private static RouteRead ScanRoutes(byte[] path, NetRouteParser.DefaultRouteSink sink)
    {
        ProcfsFileStatus status = ProcfsTextFile.ScanLines(path, MaxProcFileSize, sink, out int errno);
        return new RouteRead(status, errno, sink.Hash, sink.Malformed, status == ProcfsFileStatus.Ok && sink.Empty);
    }

    private static void WarnRoutes(string file, RouteRead read, NetRouteParser.DefaultRouteSink sink, DiscoveryWarnings warnings)
    {
        Warn(file, read.Status, read.Errno, warnings);
        if (read.Empty)
        {
            warnings.Add(ProcfsRoot.DisplayPath(file), string.Empty, "empty, without even the header line the kernel prints; no default route found in it");
        }

        foreach (string line in sink.MalformedLines)
        {
            warnings.Add(ProcfsRoot.DisplayPath(file), line, "route line does not parse; ignored");
        }

        if (sink.Malformed > sink.MalformedLines.Count)
        {
            warnings.Add(ProcfsRoot.DisplayPath(file), null, $"{sink.Malformed - sink.MalformedLines.Count} more route lines do not parse; ignored");
        }
    }

    /// <summary>What reading a route table found: the outcome, the default route's interface hash, the lines that did not parse.</summary>
    private readonly record struct RouteRead(ProcfsFileStatus Status, int Errno, ulong Hash, int Malformed, bool Empty);

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
