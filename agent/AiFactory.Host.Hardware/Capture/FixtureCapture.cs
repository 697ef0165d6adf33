using System.Text;
using System.Text.RegularExpressions;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;

namespace AiFactory.Host.Hardware.Capture;

/// <summary>
/// Captures the part of a live machine's /sys and /proc that discovery (and hwloc) read into a
/// <see cref="TextArchive"/>, so a user can attach their server to a bug report. Only allow-listed attributes are
/// read, each with one bounded read. Serial numbers, MAC addresses, and on the kernel command line UUIDs, labels, disk
/// ids, MAC and IP addresses and host names are left out unless <c>includePrivate</c> is set.
/// </summary>
public static partial class FixtureCapture
{
    /// <summary>The most of /proc/cpuinfo read (about 1.6 KiB per CPU: ample for 2,048 CPUs).</summary>
    public const int MaxProcFileSize = 4 << 20;

    private const string Redacted = "redacted";
    private const string ZeroUuid = "00000000-0000-0000-0000-000000000000";

    private static readonly string[] PciAttributes =
    [
        "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision", "numa_node", "local_cpus",
        "local_cpulist", "driver_override", "enable", "current_link_speed", "current_link_width", "max_link_speed",
        "max_link_width", "reset_method", "sriov_totalvfs", "sriov_numvfs", "sriov_drivers_autoprobe", "sriov_offset",
        "sriov_stride", "secondary_bus_number", "subordinate_bus_number", "config",
    ];

    private static readonly string[] PciLinks = ["driver", "iommu_group", "physfn", "subsystem"];
    private static readonly string[] CpuFiles = ["online", "possible", "present", "offline", "isolated", "nohz_full", "kernel_max"];
    private static readonly string[] TopologyFiles =
    [
        "physical_package_id", "die_id", "core_id", "cluster_id", "thread_siblings", "thread_siblings_list", "core_cpus",
        "core_cpus_list", "core_siblings", "core_siblings_list", "package_cpus", "package_cpus_list", "die_cpus", "die_cpus_list",
    ];

    /// <summary>Captures <paramref name="sysfs"/> and <paramref name="procfs"/> into archive entries.</summary>
    public static IReadOnlyList<ArchiveEntry> Capture(SysfsRoot sysfs, ProcfsRoot procfs, bool includePrivate, DiscoveryWarnings warnings)
    {
        var c = new Collector(sysfs, warnings);
        foreach (string f in CpuFiles)
        {
            c.File("devices/system/cpu/" + f);
        }

        foreach (string name in sysfs.List("devices/system/cpu", warnings))
        {
            if (name.StartsWith("cpu", StringComparison.Ordinal) && name.Length > 3 && char.IsAsciiDigit(name[3]))
            {
                string dir = "devices/system/cpu/" + name;
                c.File(dir + "/online");
                foreach (string f in TopologyFiles)
                {
                    c.File(dir + "/topology/" + f);
                }

                foreach (string sub in sysfs.List(dir, warnings))
                {
                    if (sub.StartsWith("node", StringComparison.Ordinal))
                    {
                        c.Link(dir + "/" + sub);
                    }
                }
            }
        }

        foreach (string f in new[] { "online", "possible", "has_cpu", "has_memory", "has_normal_memory" })
        {
            c.File("devices/system/node/" + f);
        }

        foreach (string name in sysfs.List("devices/system/node", warnings))
        {
            if (!name.StartsWith("node", StringComparison.Ordinal) || name.Length == 4 || !char.IsAsciiDigit(name[4]))
            {
                continue;
            }

            string dir = "devices/system/node/" + name;
            foreach (string f in new[] { "cpumap", "cpulist", "distance", "meminfo" })
            {
                c.File(dir + "/" + f);
            }

            c.Tree(dir + "/hugepages");
            foreach (string sub in sysfs.List(dir, warnings))
            {
                if (sub.StartsWith("cpu", StringComparison.Ordinal) && sub.Length > 3 && char.IsAsciiDigit(sub[3]))
                {
                    c.Link(dir + "/" + sub);
                }
            }
        }

        c.Tree("kernel/mm/hugepages");
        foreach (string g in sysfs.List("kernel/iommu_groups", warnings))
        {
            c.File("kernel/iommu_groups/" + g + "/type");
            foreach (string m in sysfs.List("kernel/iommu_groups/" + g + "/devices", warnings))
            {
                c.Link("kernel/iommu_groups/" + g + "/devices/" + m);
            }
        }

        var drivers = new HashSet<string>(StringComparer.Ordinal);
        foreach (string name in sysfs.List(PciDeviceReader.DevicesDirectory, warnings))
        {
            string link = PciDeviceReader.DevicesDirectory + "/" + name;
            string? dir = c.Link(link);
            if (dir is null)
            {
                continue;
            }

            foreach (string a in PciAttributes)
            {
                c.File(dir + "/" + a, a == "config" ? 256 : SysfsFile.MaxSize);
            }

            if (includePrivate)
            {
                c.File(dir + "/serial");
            }

            foreach (string l in PciLinks)
            {
                if (c.Link(dir + "/" + l) is { } target && l == "driver")
                {
                    drivers.Add(target);
                }
            }

            foreach (string sub in sysfs.List(dir, warnings))
            {
                if (sub.StartsWith("virtfn", StringComparison.Ordinal))
                {
                    c.Link(dir + "/" + sub);
                }
                else if (sub is "net" or "infiniband")
                {
                    foreach (string n in sysfs.List(dir + "/" + sub, warnings))
                    {
                        c.NetDevice(dir + "/" + sub + "/" + n, includePrivate);
                    }
                }
            }
        }

        foreach (string d in drivers)
        {
            c.Directory(d);
        }

        foreach (string cls in new[] { "class/net", "class/infiniband" })
        {
            c.Directory(cls);
            foreach (string n in sysfs.List(cls, warnings))
            {
                // Virtual devices (lo, bonds, bridges, ifb) live under devices/virtual/net, not under a PCI function:
                // capture where each link lands, or the link dangles in the archive.
                if (c.Link(cls + "/" + n) is { } target)
                {
                    c.NetDevice(target, includePrivate);
                }
            }
        }

        // Block devices, which host-needed detection follows from the device mounted on /: each class/block link and
        // where it lands, device-mapper names and the devices underneath (slaves).
        c.Directory("class/block");
        foreach (string b in sysfs.List("class/block", warnings))
        {
            if (c.Link("class/block/" + b) is not { } target)
            {
                continue;
            }

            c.Directory(target);
            c.File(target + "/dev");
            c.File(target + "/dm/name", transform: includePrivate ? null : RedactVolumeName);
            foreach (string slave in sysfs.List(target + "/slaves", warnings))
            {
                if (c.Link(target + "/slaves/" + slave) is { } lower)
                {
                    c.Directory(lower);
                }
            }
        }

        var entries = c.Entries;
        if (procfs.ReadTextFile("self/mounts", MaxProcFileSize, warnings, "not captured") is { } mounts)
        {
            entries.Add(new ArchiveEntry("proc/self/mounts", ArchiveEntryKind.File, Encoding.UTF8.GetBytes(RootMountOnly(mounts, includePrivate)), null, 0b100_100_100));
        }

        if (procfs.ReadTextFile("net/route", MaxProcFileSize, warnings, "not captured") is { } route)
        {
            entries.Add(new ArchiveEntry("proc/net/route", ArchiveEntryKind.File, Encoding.UTF8.GetBytes(DefaultRoutesOnly(route, includePrivate)), null, 0b100_100_100));
        }

        // Absent where IPv6 is disabled: then not captured, and no warning.
        if (procfs.ReadTextFile("net/ipv6_route", MaxProcFileSize, warnings, "not captured") is { } ipv6Route)
        {
            entries.Add(new ArchiveEntry("proc/net/ipv6_route", ArchiveEntryKind.File, Encoding.UTF8.GetBytes(Ipv6DefaultRoutesOnly(ipv6Route, includePrivate)), null, 0b100_100_100));
        }

        foreach (string f in new[] { "cmdline", "meminfo", "cpuinfo" })
        {
            string? text = f == "cpuinfo" ? procfs.ReadTextFile(f, MaxProcFileSize, warnings, "not captured") : procfs.ReadSmallFile(f, warnings);
            if (text is null)
            {
                continue;
            }

            if (f == "cmdline" && !includePrivate)
            {
                text = RedactCommandLine(text);
            }

            entries.Add(new ArchiveEntry("proc/" + f, ArchiveEntryKind.File, Encoding.UTF8.GetBytes(text), null, 0b100_100_100));
        }

        return includePrivate ? entries : RenameMacNamedInterfaces(entries);
    }

    /// <summary>
    /// Replaces what identifies a machine or its network on a kernel command line: UUIDs (<c>root=UUID=</c>,
    /// <c>PARTUUID=</c>), labels, disk ids and paths (<c>/dev/disk/by-id/…</c>), <c>BOOTIF=</c> and any MAC address,
    /// IPv4 and IPv6 addresses, <c>ip=</c>, <c>hostname=</c>, <c>systemd.hostname=</c>, <c>nfsroot=</c> and iSCSI names,
    /// LUKS, md, LVM and ZFS names and ids (<c>rd.luks.uuid=</c>, <c>rd.luks.name=</c>, <c>rd.md.uuid=</c>,
    /// <c>root=ZFS=…</c>), any UUID in any value, and host names (a name with two or more dots ending in letters).
    /// Everything else is kept as it is, so the capture still shows isolcpus, hugepages, iommu and the like.
    /// Interfaces named after their MAC (<c>enx…</c>) are renamed by <see cref="RenameMacNamedInterfaces"/>.
    /// </summary>
    public static string RedactCommandLine(string cmdline)
    {
        string[] parts = cmdline.Split(' ');
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i];
            string end = part.EndsWith('\n') ? "\n" : string.Empty;
            string token = part.TrimEnd('\n');
            int eq = token.IndexOf('=');
            if (eq < 0)
            {
                continue;
            }

            string key = token[..eq];
            string value = token[(eq + 1)..];
            value = key switch
            {
                "BOOTIF" => Redacted,
                _ when HostIdentifyingKeys.Contains(key) => Redacted,
                "root" when value.StartsWith("ZFS=", StringComparison.Ordinal) || value.StartsWith("zfs:", StringComparison.Ordinal) => value[..4] + Redacted,
                "ip" or "hostname" or "nfsroot" or "netroot" or "iscsi_initiator" or "rd.iscsi.initiator" or "ifname" or "bond" or "vlan" or "bridge"
                    when !IsAutoconfKeyword(value) => Redacted,
                _ when key.StartsWith("rd.iscsi.", StringComparison.Ordinal) || key.StartsWith("iscsi_", StringComparison.Ordinal) => Redacted,
                _ => RedactValue(value),
            };
            parts[i] = key + "=" + value + end;
        }

        return string.Join(' ', parts);
    }

    /// <summary>
    /// Of <c>/proc/self/mounts</c>, only the mounts on <c>/</c> (what host-needed detection reads): unless
    /// <paramref name="includePrivate"/>, each as "device / type rw|ro 0 0" with a device outside /dev as "redacted",
    /// disk ids and UUIDs in it redacted (<see cref="RedactVolumeName"/>), and the other options left out; every other
    /// mount (paths, servers, container layers) is left out.
    /// </summary>
    public static string RootMountOnly(string mounts, bool includePrivate)
    {
        var result = new StringBuilder();
        foreach (string line in mounts.Split('\n'))
        {
            byte[] raw = Encoding.UTF8.GetBytes(line);
            if (!MountsParser.TryParseRootMount(raw, out _))
            {
                continue;
            }

            if (includePrivate)
            {
                result.Append(line).Append('\n');
                continue;
            }

            string[] f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            string device = f[0].StartsWith("/dev/", StringComparison.Ordinal) ? RedactVolumeName(DiskPath().Replace(f[0], m => m.Groups[1].Value + Redacted)) : Redacted;
            string type = f.Length > 2 ? f[2] : "unknown";
            string mode = f.Length > 3 && f[3].Split(',')[0] is "ro" ? "ro" : "rw";
            result.Append(device).Append(" / ").Append(type).Append(' ').Append(mode).Append(" 0 0\n");
        }

        return result.ToString();
    }

    /// <summary>
    /// Of <c>/proc/net/route</c>, the header and the up default routes (what host-needed detection reads); unless
    /// <paramref name="includePrivate"/>, with the gateway address zeroed. Other routes (the networks) are left out.
    /// </summary>
    public static string DefaultRoutesOnly(string route, bool includePrivate)
    {
        string[] lines = route.Split('\n');
        var result = new StringBuilder(lines[0]).Append('\n');
        foreach (string line in lines.Skip(1))
        {
            if (!NetRouteParser.TryParseDefaultRoute(Encoding.UTF8.GetBytes(line), out _, out _))
            {
                continue;
            }

            string[] f = line.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (!includePrivate)
            {
                f[2] = "00000000";
            }

            result.AppendJoin('\t', f).Append('\n');
        }

        return result.ToString();
    }

    /// <summary>
    /// Of <c>/proc/net/ipv6_route</c>, the IPv6 default routes host-needed detection takes (<see cref="NetIpv6RouteParser.ParseLine"/>);
    /// unless <paramref name="includePrivate"/>, with the next hop zeroed. Other routes are left out.
    /// </summary>
    public static string Ipv6DefaultRoutesOnly(string route, bool includePrivate)
    {
        var result = new StringBuilder();
        foreach (string line in route.Split('\n'))
        {
            if (NetIpv6RouteParser.ParseLine(Encoding.UTF8.GetBytes(line), out _, out _) != NetRouteParser.RouteLine.Default)
            {
                continue;
            }

            string[] f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (!includePrivate)
            {
                f[4] = new string('0', 32);
            }

            result.AppendJoin(' ', f).Append('\n');
        }

        return result.ToString();
    }

    /// <summary>A device-mapper or mount name with any UUID in it zeroed (<c>luks-3f2a…</c> → <c>luks-00000000-…</c>), the same way in both places so that they still match.</summary>
    public static string RedactVolumeName(string name) => UuidText().Replace(name, ZeroUuid);

    [GeneratedRegex("[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")]
    private static partial Regex UuidText();

    /// <summary>
    /// Keys whose whole value names this host, its disks or its volumes: host names, LUKS and RAID identities (an md
    /// UUID is four colon-separated groups, not the UUID form), LVM volume names, the machine id.
    /// </summary>
    private static readonly HashSet<string> HostIdentifyingKeys = new(StringComparer.Ordinal)
    {
        "systemd.hostname", "rd.luks.name", "luks.name", "rd.luks.uuid", "luks.uuid", "rd.luks.key", "luks.key", "rd.md.uuid",
        "rd.dm.uuid", "rd.lvm.lv", "rd.lvm.vg", "systemd.machine_id", "rd.zfs.pool", "zfs.pool", "zfs_force_root",
    };

    /// <summary>
    /// Renames network interfaces named after their MAC address (<c>enx001122aabbcc</c>, systemd's MAC naming
    /// policy) to <c>enxredacted0</c>, <c>enxredacted1</c>, … in every entry's path and link target and in the text of
    /// the /proc files, the same name for the same interface everywhere so that the tree still holds together.
    /// </summary>
    public static IReadOnlyList<ArchiveEntry> RenameMacNamedInterfaces(IReadOnlyList<ArchiveEntry> entries)
    {
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        string Rename(string text) => MacNamedInterface().Replace(text, m =>
        {
            if (!names.TryGetValue(m.Value, out string? renamed))
            {
                renamed = "enxredacted" + names.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                names.Add(m.Value, renamed);
            }

            return renamed;
        });

        var result = new List<ArchiveEntry>(entries.Count);
        foreach (ArchiveEntry e in entries)
        {
            byte[]? content = e.Content;
            if (content is not null && e.Path.StartsWith("proc/", StringComparison.Ordinal))
            {
                content = Encoding.UTF8.GetBytes(Rename(Encoding.UTF8.GetString(content)));
            }

            result.Add(e with { Path = Rename(e.Path), Content = content, LinkTarget = e.LinkTarget is null ? null : Rename(e.LinkTarget) });
        }

        return result;
    }

    /// <summary><c>enx</c> and the 12 hex digits of a MAC address: a whole interface name (not inside a longer word).</summary>
    [GeneratedRegex("(?<![A-Za-z0-9])enx[0-9A-Fa-f]{12}(?![0-9A-Za-z])")]
    private static partial Regex MacNamedInterface();

    private static bool IsAutoconfKeyword(string value) =>
        value is "dhcp" or "dhcp6" or "on" or "any" or "off" or "none" or "bootp" or "rarp" or "both" or "auto6" or "ibft" or "link6" or "single-dhcp";

    private static string RedactValue(string value)
    {
        value = IdentifierAssignment().Replace(value, m => m.Groups[1].Value + "=" + (m.Groups[1].Value.EndsWith("UUID", StringComparison.Ordinal) ? ZeroUuid : Redacted));
        value = DiskPath().Replace(value, m => m.Groups[1].Value + Redacted);
        value = MacAddress().Replace(value, "00:00:00:00:00:00");
        value = Ipv4Address().Replace(value, "0.0.0.0");
        value = HostName().Replace(value, Redacted);
        value = UuidText().Replace(value, ZeroUuid);
        return Ipv6Address().Replace(value, "::");
    }

    /// <summary><c>UUID=…</c>, <c>PARTUUID=…</c>, <c>LABEL=…</c>, <c>PARTLABEL=…</c> (as in <c>root=UUID=…</c>) up to a comma.</summary>
    [GeneratedRegex("(UUID|PARTUUID|LABEL|PARTLABEL)=[^,]*")]
    private static partial Regex IdentifierAssignment();

    /// <summary>The name part of <c>/dev/disk/by-id/…</c> and its siblings (serial numbers, WWNs, UUIDs).</summary>
    [GeneratedRegex("(/dev/disk/by-[a-z]+/)[^,]*")]
    private static partial Regex DiskPath();

    /// <summary>Six (or eight, for EUI-64) hex pairs separated by ':' or '-'.</summary>
    [GeneratedRegex("(?<![0-9A-Fa-f])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\\1[0-9A-Fa-f]{2}){4}((\\1[0-9A-Fa-f]{2}){2})?(?![0-9A-Fa-f])")]
    private static partial Regex MacAddress();

    [GeneratedRegex("(?<![0-9.])(\\d{1,3}\\.){3}\\d{1,3}(?![0-9])")]
    private static partial Regex Ipv4Address();

    /// <summary>IPv6 addresses: in brackets (as on the command line), with a "::", or with all eight groups.</summary>
    [GeneratedRegex("\\[[0-9A-Fa-f:.]+\\]|(?<![0-9A-Za-z:])(?=[0-9A-Fa-f:]*::)[0-9A-Fa-f:]{3,}(?![0-9A-Za-z:])|(?<![0-9A-Za-z:])([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![0-9A-Za-z:])")]
    private static partial Regex Ipv6Address();

    /// <summary>A host name with a domain: two dots or more, ending in letters (<c>gpu-node-17.example.org</c>).</summary>
    [GeneratedRegex("(?<![A-Za-z0-9_./-])[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+\\.[A-Za-z]{2,}(?![A-Za-z0-9_-])")]
    private static partial Regex HostName();

    private sealed class Collector(SysfsRoot root, DiscoveryWarnings warnings)
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public List<ArchiveEntry> Entries { get; } = [];

        public void File(string relative, int limit = SysfsFile.MaxSize, Func<string, string>? transform = null)
        {
            if (!_seen.Add(relative))
            {
                return;
            }

            // Read as discovery reads: in a root other than /sys, never through a link that leads out of it.
            byte[] buffer = new byte[SysfsFile.MaxSize];
            int n = root.ReadBytes(relative, buffer, out SysfsFile.Status status);
            if (status != SysfsFile.Status.Ok)
            {
                return;
            }

            byte[] content = buffer[..Math.Min(n, limit)];
            if (transform is not null)
            {
                content = Encoding.UTF8.GetBytes(transform(Encoding.UTF8.GetString(content)));
            }

            Entries.Add(new ArchiveEntry("sys/" + relative, ArchiveEntryKind.File, content, null, 0b100_100_100));
        }

        /// <summary>Records the link and returns the target relative to the root (null when not a link or outside).</summary>
        public string? Link(string relative)
        {
            string? target = root.ResolveLink(relative, warnings);
            if (target is null || !_seen.Add(relative))
            {
                return target;
            }

            string from = Path.GetDirectoryName("/" + relative)!;
            Entries.Add(new ArchiveEntry("sys/" + relative, ArchiveEntryKind.Symlink, null, Path.GetRelativePath(from, "/" + target), 0));
            return target;
        }

        /// <summary>A network device's directory (under a PCI function or devices/virtual/net): its attributes and device link.</summary>
        public void NetDevice(string relative, bool includePrivate)
        {
            Directory(relative);
            foreach (string f in new[] { "type", "mtu", "operstate", "node_type" })
            {
                File(relative + "/" + f);
            }

            if (includePrivate)
            {
                File(relative + "/address");
                File(relative + "/node_guid");
            }

            Link(relative + "/device");

            // Bonds and VLANs (lower_*) and bridges (brif/): what host-needed detection follows from the default
            // route's interface to the PCI functions underneath.
            foreach (string name in root.List(relative, warnings))
            {
                if (name.StartsWith("lower_", StringComparison.Ordinal))
                {
                    Link(relative + "/" + name);
                }
            }

            foreach (string port in root.List(relative + "/brif", warnings))
            {
                Directory(relative + "/brif");
                if (Link(relative + "/brif/" + port) is { } brport)
                {
                    Directory(brport);
                }
            }
        }

        public void Directory(string relative)
        {
            if (_seen.Add(relative))
            {
                Entries.Add(new ArchiveEntry("sys/" + relative, ArchiveEntryKind.Directory, null, null, 0b111_101_101));
            }
        }

        /// <summary>Every regular file below <paramref name="relative"/> (small trees only: hugepages).</summary>
        public void Tree(string relative, int depth = 0)
        {
            if (depth > 4)
            {
                return;
            }

            foreach (string name in root.List(relative, warnings))
            {
                string child = relative + "/" + name;
                string full = root.PathOf(child);
                if (System.IO.Directory.Exists(full) && new FileInfo(full).LinkTarget is null)
                {
                    Tree(child, depth + 1);
                }
                else if (System.IO.File.Exists(full))
                {
                    File(child);
                }
            }
        }
    }
}
