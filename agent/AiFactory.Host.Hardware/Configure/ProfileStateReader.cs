using System.Globalization;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// Reads what the profile planner needs, fresh, before each plan: the PCI functions with their driver, override,
/// IOMMU group and SR-IOV state; the NUMA nodes with memory and hugepage pools; the CPU sets; and, for the units
/// the profile names, systemd's AllowedCPUs= and active state.
/// </summary>
/// <remarks>
/// A narrow reader of the attributes the configure steps change (the full inventory is Discovery's job); reading
/// exactly these keeps the plan and the read-back on the same files. A value the plan depends on that cannot be
/// read (a file that fails to read, holds no number, or is missing where the kernel always has it) is never taken for
/// 0: it is listed in <see cref="ProfileCurrentState.Unreadable"/> with the file and why, and the planner refuses the
/// entries that depend on it.
/// </remarks>
public sealed class ProfileStateReader(SysfsTree sysfs, ISystemctl? systemctl, string? procfsRoot = null, string? overridesDir = null)
{
    private readonly List<UnreadableValue> _unreadable = [];

    /// <summary>
    /// The topology as far as the profile cares. The values it could not read are kept for <see cref="ReadState"/>
    /// (call it after this, as a plan does).
    /// </summary>
    public HostTopology ReadTopology()
    {
        _unreadable.RemoveAll(u => u.Unit is null);
        var devices = new List<PciDevice>();
        foreach (string name in sysfs.List("bus/pci/devices"))
        {
            if (PciAddress.TryParse(name, out PciAddress address))
            {
                devices.Add(ReadDevice(address));
            }
        }

        devices.Sort((a, b) => a.Address.CompareTo(b.Address));
        // Each function's iommu_group link is read anyway: the groups follow from those links, which saves a
        // directory listing per group (kernel/iommu_groups/N/devices) on every plan.
        var groups = new List<IommuGroup>();
        foreach (IGrouping<int, PciDevice> g in devices.Where(d => d.IommuGroup is not null).GroupBy(d => d.IommuGroup!.Value))
        {
            groups.Add(new IommuGroup(g.Key, [.. g.Select(d => d.Address)]));
        }

        groups.Sort((a, b) => a.Id.CompareTo(b.Id));
        return new HostTopology
        {
            Cpus = ReadCpus(),
            NumaNodes = ReadNodes(),
            PciDevices = devices,
            IommuGroups = groups,
        };
    }

    /// <summary>
    /// Module and systemd state for <paramref name="profile"/>; <paramref name="appliedUnits"/>: the units the profile
    /// applied last confined (<see cref="ProfileCurrentState.AppliedCpus"/>), whose <c>AllowedCPUs=</c> are read too.
    /// </summary>
    public ProfileCurrentState ReadState(NodeProfile profile, IReadOnlyList<string>? appliedUnits = null)
    {
        var allowed = new Dictionary<string, CpuSet>(StringComparer.Ordinal);
        var active = new HashSet<string>(StringComparer.Ordinal);
        _unreadable.RemoveAll(u => u.Unit is not null);
        if (systemctl is not null)
        {
            foreach (string unit in (profile.Cpus?.Units ?? []).Concat(appliedUnits ?? []).Distinct(StringComparer.Ordinal))
            {
                string raw = systemctl.GetAllowedCpus(unit);
                if (CpuSet.TryParse(raw.Replace(' ', ','), out CpuSet? set, out string? error))
                {
                    allowed[unit] = set;
                }
                else
                {
                    _unreadable.Add(new UnreadableValue($"systemctl show -p AllowedCPUs {unit}", $"\"{raw}\": {error}") { Unit = unit });
                }
            }

            foreach (ServiceProfile service in profile.Services)
            {
                if (systemctl.IsActive(service.Name))
                {
                    active.Add(service.Name);
                }
            }
        }

        IReadOnlyDictionary<PciAddress, string> hostNeeded = profile.Vfio is not null && procfsRoot is not null
            ? new HostNeededDevices(new Sysfs.SysfsRoot(sysfs.Root), new Procfs.ProcfsRoot(procfsRoot)).Read(new Discovery.DiscoveryWarnings())
            : new Dictionary<PciAddress, string>();
        return new ProfileCurrentState
        {
            VfioPciLoaded = sysfs.Exists("bus/pci/drivers/vfio-pci"),
            AllowedCpus = allowed,
            ActiveUnits = active,
            HostNeeded = hostNeeded,
            PersistedOverrides = profile.Vfio is not null && overridesDir is not null ? VfioOverrideFiles.Read(overridesDir) : null,
            Unreadable = [.. _unreadable],
        };
    }

    private PciDevice ReadDevice(PciAddress address)
    {
        string dev = "bus/pci/devices/" + address;
        ushort vendor = Hex16(sysfs.Read(dev + "/vendor"));
        ushort device = Hex16(sysfs.Read(dev + "/device"));
        string? rawClass = Required(address, dev + "/class");
        uint cls = 0;
        if (rawClass is not null && !uint.TryParse(Strip(rawClass), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out cls))
        {
            Unreadable(address, dev + "/class", $"not a class code: \"{rawClass}\"");
        }

        string? over = Optional(address, dev + "/driver_override");
        long? numa = sysfs.ReadLong(dev + "/numa_node");
        SriovInfo? sriov = null;
        if (sysfs.ReadLong(dev + "/sriov_totalvfs") is long total)
        {
            var vfs = new List<(int, PciAddress)>();
            foreach (string n in sysfs.List(dev))
            {
                if (n.StartsWith("virtfn", StringComparison.Ordinal) && int.TryParse(n.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out int i) &&
                    PciAddress.TryParse(sysfs.LinkName(dev + "/" + n), out PciAddress vf))
                {
                    vfs.Add((i, vf));
                }
            }

            long? autoprobe = Number(address, dev + "/sriov_drivers_autoprobe", Optional(address, dev + "/sriov_drivers_autoprobe"));
            // Unreadable, the count stays 0 here but is listed: the planner refuses this PF's entry rather than plan from 0.
            long numVfs = Number(address, dev + "/sriov_numvfs", Required(address, dev + "/sriov_numvfs")) ?? 0;
            sriov = new SriovInfo((int)total, (int)numVfs, autoprobe is null ? null : autoprobe != 0, [.. vfs.OrderBy(v => v.Item1).Select(v => v.Item2)]);
        }

        string? driver = sysfs.LinkName(dev + "/driver", out string? driverError);
        if (driverError is not null)
        {
            Unreadable(address, dev + "/driver", driverError);
        }

        string? groupLink = sysfs.LinkName(dev + "/iommu_group", out string? groupError);
        if (groupError is not null)
        {
            Unreadable(address, dev + "/iommu_group", groupError);
        }

        return new PciDevice
        {
            Address = address,
            VendorId = vendor,
            DeviceId = device,
            ClassCode = cls,
            Kind = KindOf(vendor, cls),
            Driver = driver,
            DriverOverride = over is null or "(null)" or "" ? null : over,
            NumaNode = numa is >= 0 ? (int)numa : null,
            IommuGroup = int.TryParse(groupLink, NumberStyles.None, CultureInfo.InvariantCulture, out int g) ? g : null,
            Sriov = sriov,
            PhysicalFunction = PciAddress.TryParse(sysfs.LinkName(dev + "/physfn"), out PciAddress pf) ? pf : null,
        };
    }

    private static DeviceKind KindOf(ushort vendor, uint cls) => (cls >> 8) switch
    {
        0x0604 or 0x0600 or 0x0601 or 0x0609 => DeviceKind.Bridge,
        0x0108 => DeviceKind.Nvme,
        0x0403 when vendor == 0x10de => DeviceKind.GpuAudio,
        0x0300 or 0x0302 or 0x1200 when vendor == 0x10de => DeviceKind.Gpu,
        _ when (cls >> 16) == 0x02 => DeviceKind.Nic,
        _ when (cls >> 16) == 0x06 => DeviceKind.Bridge,
        _ when (cls >> 16) == 0x01 => DeviceKind.Storage,
        _ => DeviceKind.Other,
    };

    private List<NumaNode> ReadNodes()
    {
        var nodes = new List<NumaNode>();
        foreach (string name in sysfs.List("devices/system/node"))
        {
            if (!name.StartsWith("node", StringComparison.Ordinal) || !int.TryParse(name.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            {
                continue;
            }

            string dir = "devices/system/node/" + name;
            var pools = new List<HugepagePool>();
            foreach (string pool in sysfs.List(dir + "/hugepages"))
            {
                // hugepages-2048kB
                if (pool.StartsWith("hugepages-", StringComparison.Ordinal) && pool.EndsWith("kB", StringComparison.Ordinal) &&
                    long.TryParse(pool.AsSpan(10, pool.Length - 12), NumberStyles.None, CultureInfo.InvariantCulture, out long size))
                {
                    string p = $"{dir}/hugepages/{pool}/";
                    // Unreadable, the pool's total stays 0 here but is listed: its entry is refused, never planned (and
                    // rolled back) from 0.
                    string? nr = sysfs.Read(p + "nr_hugepages", out string? error);
                    long? total = long.TryParse(nr, NumberStyles.None, CultureInfo.InvariantCulture, out long t) ? t : null;
                    if (total is null)
                    {
                        _unreadable.Add(new UnreadableValue(p + "nr_hugepages", error ?? (nr is null ? "missing" : $"not a number: \"{nr}\"")) { Node = id, PageSizeKiB = size });
                    }

                    pools.Add(new HugepagePool(size, total ?? 0, sysfs.ReadLong(p + "free_hugepages") ?? 0, sysfs.ReadLong(p + "surplus_hugepages") ?? 0));
                }
            }

            string? meminfo = sysfs.Read(dir + "/meminfo", out string? meminfoError);
            long memTotalKiB = MeminfoKiB(meminfo, "MemTotal:");
            if (memTotalKiB <= 0)
            {
                // MemoryTotalBytes stays null (unknown); the planner refuses this node's hugepage entries.
                _unreadable.Add(new UnreadableValue(dir + "/meminfo", meminfoError ?? (meminfo is null ? "missing" : "no MemTotal line")) { Node = id });
            }

            nodes.Add(new NumaNode
            {
                Id = id,
                Cpus = CpuSet.TryParse(sysfs.Read(dir + "/cpulist") ?? string.Empty, out CpuSet? cpus, out _) ? cpus : CpuSet.Empty,
                MemoryTotalBytes = memTotalKiB > 0 ? memTotalKiB * 1024 : null,
                MemoryFreeBytes = MeminfoKiB(meminfo, "MemFree:") is > 0 and long free ? free * 1024 : null,
                Hugepages = [.. pools.OrderBy(p => p.PageSizeKiB)],
            });
        }

        nodes.Sort((a, b) => a.Id.CompareTo(b.Id));
        return nodes;
    }

    /// <summary>Parses "Node 0 MemTotal:  2014584 kB" lines of a node's meminfo; 0 when absent.</summary>
    internal static long MeminfoKiB(string? meminfo, string key)
    {
        foreach (string line in (meminfo ?? string.Empty).Split('\n'))
        {
            int at = line.IndexOf(key, StringComparison.Ordinal);
            if (at >= 0)
            {
                string[] parts = line[(at + key.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > 0 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long kib))
                {
                    return kib;
                }
            }
        }

        return 0;
    }

    private CpuTopology ReadCpus()
    {
        CpuSet Set(string file)
        {
            string? raw = sysfs.Read("devices/system/cpu/" + file);
            return raw is null or "(null)" || !CpuSet.TryParse(raw, out CpuSet? set, out _) ? CpuSet.Empty : set;
        }

        return new CpuTopology { Online = Set("online"), Possible = Set("possible"), Present = Set("present"), Isolated = Set("isolated"), NohzFull = Set("nohz_full"), Cpus = [] };
    }

    /// <summary>An attribute every function has: missing or unreadable, it is listed for <paramref name="device"/>.</summary>
    private string? Required(PciAddress device, string path)
    {
        string? value = sysfs.Read(path, out string? error);
        if (value is null)
        {
            Unreadable(device, path, error ?? "missing");
        }

        return value;
    }

    /// <summary>An attribute that may be absent (null); one that exists but cannot be read is listed for <paramref name="device"/>.</summary>
    private string? Optional(PciAddress device, string path)
    {
        string? value = sysfs.Read(path, out string? error);
        if (error is not null)
        {
            Unreadable(device, path, error);
        }

        return value;
    }

    /// <summary>A read value as a number; one that is not is listed for <paramref name="device"/>.</summary>
    private long? Number(PciAddress device, string path, string? raw)
    {
        if (raw is null)
        {
            return null;
        }

        if (long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
        {
            return v;
        }

        Unreadable(device, path, $"not a number: \"{raw}\"");
        return null;
    }

    private void Unreadable(PciAddress device, string path, string why) => _unreadable.Add(new UnreadableValue(path, why) { Device = device });

    private static string? Strip(string? hex) => hex is not null && hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? hex[2..] : hex;

    private static ushort Hex16(string? raw) =>
        ushort.TryParse(Strip(raw), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort v) ? v : (ushort)0;
}
