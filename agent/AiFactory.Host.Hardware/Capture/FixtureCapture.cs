using System.Globalization;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;

namespace AiFactory.Host.Hardware.Capture;

/// <summary>
/// Captures the part of a live machine's /sys and /proc that discovery (and hwloc) read into a
/// <see cref="TextArchive"/>, so a user can attach their server to a bug report. Only allow-listed attributes are
/// read, each with one bounded read. Serial numbers, MAC addresses and the kernel command line's UUIDs are left out
/// unless <c>includePrivate</c> is set.
/// </summary>
public static class FixtureCapture
{
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
                        string nd = dir + "/" + sub + "/" + n;
                        foreach (string f in new[] { "type", "mtu", "operstate", "node_type" })
                        {
                            c.File(nd + "/" + f);
                        }

                        if (includePrivate)
                        {
                            c.File(nd + "/address");
                            c.File(nd + "/node_guid");
                        }

                        c.Link(nd + "/device");
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
                c.Link(cls + "/" + n);
            }
        }

        var entries = c.Entries;
        foreach (string f in new[] { "cmdline", "meminfo", "cpuinfo" })
        {
            string? text = f == "cpuinfo" ? ReadWhole(procfs, f) : procfs.ReadSmallFile(f, warnings);
            if (text is null)
            {
                continue;
            }

            if (f == "cmdline" && !includePrivate)
            {
                text = RedactCommandLine(text);
            }

            entries.Add(new ArchiveEntry("proc/" + f, ArchiveEntryKind.File, System.Text.Encoding.UTF8.GetBytes(text), null, 0b100_100_100));
        }

        return entries;
    }

    /// <summary>Replaces values that identify a machine (<c>root=UUID=…</c>, any <c>…UUID=…</c>) with zeros.</summary>
    public static string RedactCommandLine(string cmdline)
    {
        var parts = cmdline.Split(' ');
        for (int i = 0; i < parts.Length; i++)
        {
            int u = parts[i].IndexOf("UUID=", StringComparison.Ordinal);
            if (u >= 0)
            {
                parts[i] = parts[i][..(u + 5)] + "00000000-0000-0000-0000-000000000000" + (parts[i].EndsWith('\n') ? "\n" : string.Empty);
            }
        }

        return string.Join(' ', parts);
    }

    private static string? ReadWhole(ProcfsRoot procfs, string relative)
    {
        try
        {
            string path = Path.Combine(procfs.MountPoint, relative);
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private sealed class Collector(SysfsRoot root, DiscoveryWarnings warnings)
    {
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

        public List<ArchiveEntry> Entries { get; } = [];

        public void File(string relative, int limit = SysfsFile.MaxSize)
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

            Entries.Add(new ArchiveEntry("sys/" + relative, ArchiveEntryKind.File, buffer[..Math.Min(n, limit)], null, 0b100_100_100));
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
