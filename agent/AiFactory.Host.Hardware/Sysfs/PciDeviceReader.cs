using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Reads PCI functions from <c>/sys/bus/pci/devices/&lt;address&gt;</c> (links into <c>/sys/devices/pci…/</c>): ids,
/// class, driver, NUMA node, link, reset methods, IOMMU group, SR-IOV and the bridges up to the root port.
/// </summary>
public static class PciDeviceReader
{
    /// <summary>The directory of PCI function links.</summary>
    public const string DevicesDirectory = "bus/pci/devices";

    /// <summary>Every function listed under <c>/sys/bus/pci/devices</c>, sorted by address. Bad entries become warnings.</summary>
    public static IReadOnlyList<PciDevice> ReadAll(SysfsRoot root, DiscoveryWarnings warnings) => ReadAll(root, warnings, 1);

    /// <summary>
    /// <see cref="ReadAll(SysfsRoot, DiscoveryWarnings)"/> on up to <paramref name="threads"/> threads (1: this thread
    /// only). The functions, the warnings (in listing order) and what is recorded for the rescan are the same for any
    /// number of threads. <paramref name="alongside"/> is other work for one of those threads (see <see cref="ForkedReads.Run"/>).
    /// </summary>
    internal static IReadOnlyList<PciDevice> ReadAll(SysfsRoot root, DiscoveryWarnings warnings, int threads, Action? alongside = null)
    {
        using SysfsDirectory bus = root.OpenDirectory(DevicesDirectory, list: true, warnings);
        List<string> names = bus.Names();
        DirectoryLocation busLocation = bus.Location;
        var read = new PciDevice?[names.Count];
        ForkedReads.Run(root, warnings, names.Count, threads, (i, r, w) =>
        {
            string name = names[i];
            if (!PciAddress.TryParse(name, out PciAddress address) || address.ToString() != name)
            {
                w.Add(SysfsRoot.DisplayPath(DevicesDirectory + "/" + name), name, "not a PCI address (dddd:bb:dd.f); entry ignored");
                return;
            }

            read[i] = Read(r, busLocation, name, address, w);
        }, alongside);

        var devices = new List<PciDevice>(names.Count);
        foreach (PciDevice? device in read)
        {
            if (device is not null)
            {
                devices.Add(device);
            }
        }

        devices.Sort(static (a, b) => a.Address.CompareTo(b.Address));
        return WithGpuLinks(devices);
    }

    /// <summary>
    /// Marks the other functions of a GPU's device (<see cref="PciDevice.SharesGpuLink"/>: the HD-audio function, the
    /// USB-C controller of some boards): they report the one link of their device, which the GPU slows down while idle,
    /// so a slow link there is no more a fault than on the GPU. <paramref name="devices"/> is sorted by address.
    /// </summary>
    internal static List<PciDevice> WithGpuLinks(List<PciDevice> devices)
    {
        HashSet<PciAddress>? gpuSlots = null;
        foreach (PciDevice d in devices)
        {
            if (d.Kind == DeviceKind.Gpu)
            {
                (gpuSlots ??= []).Add(d.Address with { Function = 0 });
            }
        }

        for (int i = 0; gpuSlots is not null && i < devices.Count; i++)
        {
            PciDevice d = devices[i];
            if (d.Kind != DeviceKind.Gpu && d.Link is not null && gpuSlots.Contains(d.Address with { Function = 0 }))
            {
                devices[i] = d with { SharesGpuLink = true };
            }
        }

        return devices;
    }

    /// <summary>
    /// Reads the function named <paramref name="name"/>. The name must be a PCI address in the kernel's form; anything
    /// else (a path, <c>../</c>) is refused with <see cref="ArgumentException"/> before any file is touched.
    /// </summary>
    public static PciDevice? Read(SysfsRoot root, string name, DiscoveryWarnings warnings)
    {
        if (!PciAddress.TryParse(name, out PciAddress address) || address.ToString() != name)
        {
            throw new ArgumentException($"invalid PCI device name \"{name}\": expected dddd:bb:dd.f, e.g. 0000:41:00.0", nameof(name));
        }

        return Read(root, address, warnings);
    }

    /// <summary>Reads one function; null (with a warning) when its directory or its ids cannot be read.</summary>
    public static PciDevice? Read(SysfsRoot root, PciAddress address, DiscoveryWarnings warnings)
    {
        using SysfsDirectory bus = root.OpenDirectory(DevicesDirectory, list: false, warnings);
        return Read(root, bus.Location, address.ToString(), address, warnings);
    }

    private static PciDevice? Read(SysfsRoot root, in DirectoryLocation bus, string name, PciAddress address, DiscoveryWarnings warnings)
    {
        string link = DevicesDirectory + "/" + name;
        int warned = warnings.Items.Count;
        string? dir = root.ResolveLink(bus, name, warnings, null);
        if (dir is null && warnings.Items.Count > warned)
        {
            // A link that dangles, loops or leads out of the root: already reported.
            return null;
        }

        if (dir is null)
        {
            // Not a link (an old kernel or a flat capture): read it in place if it is a directory.
            if (!root.Exists(link))
            {
                warnings.Add(SysfsRoot.DisplayPath(link), null, "device vanished or link dangles; skipped");
                return null;
            }

            dir = link;
        }

        if (SysfsRoot.LastComponent(dir) != name)
        {
            // The kernel names each link after the function it leads to. One that leads to another function's directory
            // would report that function a second time under this address (a GPU that is not there); one that leads to a
            // file would give a "missing" warning for each id file.
            warnings.Add(SysfsRoot.DisplayPath(link), SysfsRoot.DisplayPath(dir), $"link leads to {SysfsRoot.DisplayPath(dir)}, not the directory of {name}; skipped");
            return null;
        }

        // One descriptor per device, attributes by openat. Not listed: on the ext4 fixture trees a getdents of a device
        // directory cost more than the two or three failed lookups it saves (sriov_totalvfs, physfn, reset_method),
        // measured in docs/benchmarks/discovery.md; the SR-IOV attributes after sriov_totalvfs are read only when it exists.
        using SysfsDirectory d = root.OpenDirectory(dir, list: false, warnings);
        // All three are read (and each problem reported, naming its own file and raw value) before the device is given up.
        bool identified = Identity(d, "vendor", address, warnings, out uint vendor) &
            Identity(d, "device", address, warnings, out uint device) &
            Identity(d, "class", address, warnings, out uint classCode);
        if (!identified)
        {
            return null;
        }

        return new PciDevice
        {
            Address = address,
            VendorId = (ushort)vendor,
            DeviceId = (ushort)device,
            SubsystemVendorId = HexId(d, "subsystem_vendor", address, warnings),
            SubsystemDeviceId = HexId(d, "subsystem_device", address, warnings),
            ClassCode = classCode,
            Kind = PciIds.Classify((ushort)vendor, (ushort)device, classCode),
            ModelName = PciIds.ModelName((ushort)vendor, (ushort)device),
            Driver = d.ReadLinkName("driver", warnings),
            DriverOverride = ParseDriverOverride(Printable(d, "driver_override", address, warnings)),
            NumaNode = NumaNode(d, address, warnings),
            LocalCpus = LocalCpus(d, address, warnings),
            Link = Link(d, address, warnings),
            ResetMethods = ParseResetMethods(Printable(d, "reset_method", address, warnings)),
            IommuGroup = IommuGroup(d, address, warnings),
            Sriov = Sriov(d, address, warnings),
            PhysicalFunction = PhysicalFunction(d, warnings),
            UpstreamBridges = ParseUpstreamBridges(dir, address),
        };
    }

    /// <summary>
    /// One of the attributes that identify a function (<c>vendor</c>, <c>device</c>: 16-bit hex ids; <c>class</c>: the
    /// 24-bit class code); false, with a warning naming that file and its raw value, when it is missing or does not parse.
    /// </summary>
    private static bool Identity(SysfsDirectory d, string attribute, PciAddress address, DiscoveryWarnings warnings, out uint value)
    {
        value = 0;
        int warned = warnings.Items.Count;
        string? raw = d.ReadAttribute(attribute, warnings);
        if (raw is null)
        {
            if (warnings.Items.Count == warned)
            {
                warnings.Add(d.DisplayPath(attribute), null, $"{attribute} of {address} is missing; device skipped");
            }

            return false;
        }

        bool parsed;
        string? error;
        if (attribute == "class")
        {
            parsed = AttributeParsers.TryParseClass(raw, out value, out error);
        }
        else
        {
            parsed = AttributeParsers.TryParseHexId(raw, out ushort id, out error);
            value = id;
        }

        if (!parsed)
        {
            warnings.Add(d.DisplayPath(attribute), raw, $"failed to parse {attribute} for {address}: {error}; device skipped");
        }

        return parsed;
    }

    /// <summary>
    /// A text attribute (a driver or method name), or null with a warning when it holds control characters or NUL: the
    /// kernel never writes those there, and passed on they would reach logs, JSON and shells.
    /// </summary>
    private static string? Printable(SysfsDirectory d, string attribute, PciAddress address, DiscoveryWarnings warnings)
    {
        string? raw = d.ReadAttribute(attribute, warnings);
        if (raw is null || !raw.AsSpan().ContainsAnyInRange('\0', '\x1f') && !raw.Contains('\x7f', StringComparison.Ordinal))
        {
            return raw;
        }

        warnings.Add(d.DisplayPath(attribute), raw, $"{attribute} of {address} holds control characters; ignored");
        return null;
    }

    /// <summary><c>driver_override</c>: "(null)" or empty means none.</summary>
    public static string? ParseDriverOverride(string? raw) =>
        raw is null || raw.Length == 0 || raw == "(null)" ? null : raw;

    /// <summary><c>reset_method</c>: space-separated method names in the kernel's order (flr, pm, bus, ...).</summary>
    public static IReadOnlyList<string> ParseResetMethods(string? raw) =>
        string.IsNullOrWhiteSpace(raw) ? [] : raw.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// The bridges above a device from its real directory (<c>devices/pci0000:15/0000:15:01.0/0000:16:00.0/…/0000:18:00.0</c>),
    /// nearest first: every path component that is a PCI address, except the device itself.
    /// </summary>
    public static IReadOnlyList<PciAddress> ParseUpstreamBridges(string deviceDirectory, PciAddress self)
    {
        var bridges = new List<PciAddress>();
        foreach (string part in deviceDirectory.Split('/'))
        {
            // Only the full form (4 to 8 domain digits) names a device directory.
            if (part.Length >= 12 && PciAddress.TryParse(part, out PciAddress a) && a != self)
            {
                bridges.Add(a);
            }
        }

        bridges.Reverse();
        return bridges;
    }

    private static ushort? HexId(SysfsDirectory d, string attribute, PciAddress address, DiscoveryWarnings warnings)
    {
        string? raw = d.ReadAttribute(attribute, warnings);
        if (raw is null)
        {
            return null;
        }

        if (AttributeParsers.TryParseHexId(raw, out ushort id, out string? error))
        {
            return id;
        }

        warnings.Add(d.DisplayPath(attribute), raw, $"failed to parse {attribute} for {address}: {error}");
        return null;
    }

    private static int? NumaNode(SysfsDirectory d, PciAddress address, DiscoveryWarnings warnings)
    {
        string? raw = d.ReadAttribute("numa_node", warnings);
        if (raw is null)
        {
            return null;
        }

        if (AttributeParsers.TryParseNumaNode(raw, out int? node, out string? error))
        {
            return node;
        }

        warnings.Add(d.DisplayPath("numa_node"), raw, $"failed to parse numa_node for {address}: {error}; NUMA node unknown");
        return null;
    }

    private static CpuSet? LocalCpus(SysfsDirectory d, PciAddress address, DiscoveryWarnings warnings)
    {
        string? raw = d.ReadList("local_cpulist", warnings);
        if (raw is null)
        {
            return null;
        }

        if (CpuSet.TryParse(raw, out CpuSet? set, out string? error))
        {
            return set;
        }

        warnings.Add(d.DisplayPath("local_cpulist"), raw, $"failed to parse local_cpulist for {address}: {error}");
        return null;
    }

    private static PcieLink? Link(SysfsDirectory d, PciAddress address, DiscoveryWarnings warnings)
    {
        double? cs = Speed("current_link_speed");
        double? ms = Speed("max_link_speed");
        int? cw = Width("current_link_width");
        int? mw = Width("max_link_width");
        return cs is null && ms is null && cw is null && mw is null ? null : new PcieLink(cs, ms, cw, mw);

        double? Speed(string attribute)
        {
            string? raw = d.ReadAttribute(attribute, warnings);
            if (raw is null)
            {
                return null;
            }

            if (AttributeParsers.TryParseLinkSpeed(raw, out double? gts, out string? error))
            {
                return gts;
            }

            warnings.Add(d.DisplayPath(attribute), raw, $"failed to parse {attribute} for {address}: {error}");
            return null;
        }

        int? Width(string attribute)
        {
            string? raw = d.ReadAttribute(attribute, warnings);
            if (raw is null)
            {
                return null;
            }

            // 0 is what a function without a trained link reports; 255 is the "unknown" some kernels print.
            if (AttributeParsers.TryParseInt(raw, 0, 255, out long w, out string? error))
            {
                return w is 0 or 255 ? null : (int)w;
            }

            warnings.Add(d.DisplayPath(attribute), raw, $"failed to parse {attribute} for {address}: {error}");
            return null;
        }
    }

    private static int? IommuGroup(SysfsDirectory d, PciAddress address, DiscoveryWarnings warnings)
    {
        string? name = d.ReadLinkName("iommu_group", warnings);
        if (name is null)
        {
            return null;
        }

        if (AttributeParsers.TryParseInt(name, 0, int.MaxValue, out long g, out string? error))
        {
            return (int)g;
        }

        warnings.Add(d.DisplayPath("iommu_group"), name, $"iommu_group link of {address} does not name a group number: {error}");
        return null;
    }

    private static SriovInfo? Sriov(SysfsDirectory d, PciAddress address, DiscoveryWarnings warnings)
    {
        string? totalRaw = d.ReadAttribute("sriov_totalvfs", warnings);
        if (totalRaw is null)
        {
            return null;
        }

        if (!AttributeParsers.TryParseInt(totalRaw, 0, 65535, out long total, out string? error))
        {
            warnings.Add(d.DisplayPath("sriov_totalvfs"), totalRaw, $"failed to parse sriov_totalvfs for {address}: {error}");
            return null;
        }

        long? num = 0;
        string? numRaw = d.ReadAttribute("sriov_numvfs", warnings);
        if (numRaw is not null)
        {
            num = AttributeParsers.TryParseInt(numRaw, 0, total, out long n, out error) ? n : null;
        }

        bool? autoprobe = null;
        string? apRaw = d.ReadAttribute("sriov_drivers_autoprobe", warnings);
        if (apRaw is "0" or "1")
        {
            autoprobe = apRaw == "1";
        }
        else if (apRaw is not null)
        {
            warnings.Add(d.DisplayPath("sriov_drivers_autoprobe"), apRaw, $"failed to parse sriov_drivers_autoprobe for {address}: expected 0 or 1");
        }

        // The virtfnN links, up to the first missing one (at most sriov_totalvfs of them): what the kernel created, to
        // check the count against, and to count when the count itself is damaged.
        var vfs = new List<PciAddress>();
        int links = 0;
        for (int i = 0; i <= total; i++)
        {
            string? vf = d.ReadLinkName("virtfn" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), warnings);
            if (vf is null)
            {
                break;
            }

            links++;
            if (PciAddress.TryParse(vf, out PciAddress a))
            {
                vfs.Add(a);
            }
        }

        if (num is null)
        {
            warnings.Add(d.DisplayPath("sriov_numvfs"), numRaw, $"failed to parse sriov_numvfs for {address}: {error}; VF count unknown, {links} virtfn links counted instead");
            num = links;
        }
        else if (num != links)
        {
            warnings.Add(d.DisplayPath("sriov_numvfs"), numRaw, $"sriov_numvfs of {address} is {num} but {links} virtfn links are present");
        }

        return new SriovInfo((int)total, (int)num, autoprobe, vfs);
    }

    private static PciAddress? PhysicalFunction(SysfsDirectory d, DiscoveryWarnings warnings)
    {
        string? pf = d.ReadLinkName("physfn", warnings);
        return pf is not null && PciAddress.TryParse(pf, out PciAddress a) ? a : null;
    }
}
