using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Memory;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Hardware.Discovery;

/// <summary>
/// The one place that builds <see cref="HostTopology"/>: reads sysfs and procfs through their roots and puts the
/// pieces together. Never throws for what the machine (or a fixture) holds: anything unreadable becomes a
/// warning and the rest of the inventory is still returned.
/// </summary>
public sealed class HostDiscovery
{
    private readonly SysfsRoot _sysfs;
    private readonly ProcfsRoot? _procfs;
    private readonly HostNeededDevices? _hostNeeded;
    private SysfsRecording? _recording;
    private byte[]? _meminfoPath;
    private long? _memTotal;

    /// <summary>Discovery over <paramref name="sysfs"/> and, optionally, <paramref name="procfs"/>.</summary>
    public HostDiscovery(SysfsRoot sysfs, ProcfsRoot? procfs)
    {
        _sysfs = sysfs;
        _procfs = procfs;
        _hostNeeded = procfs is null ? null : new HostNeededDevices(sysfs, procfs);
    }

    /// <summary>Discovery of the trees at the given mount points.</summary>
    public HostDiscovery(string sysfsRoot, string? procfsRoot)
        : this(new SysfsRoot(sysfsRoot), procfsRoot is null ? null : new ProcfsRoot(procfsRoot))
    {
    }

    /// <summary>
    /// How many threads read the tree: the CPU topology is read beside the PCI functions, and the functions are
    /// shared out one at a time. 1 reads everything on the calling thread, in order. The inventory, its warnings and
    /// the rescan's hash are the same for any value (tests compare them).
    /// </summary>
    internal int ReadThreads { get; set; } = Math.Clamp(Environment.ProcessorCount, 1, MaxReadThreads);

    /// <summary>More threads than this only wait on each other for the directory locks of sysfs.</summary>
    internal const int MaxReadThreads = 8;

    /// <summary>The sysfs root read.</summary>
    public SysfsRoot Sysfs => _sysfs;

    /// <summary>The procfs root read, if any.</summary>
    public ProcfsRoot? Procfs => _procfs;

    /// <summary>Reads the whole machine.</summary>
    public HostTopology Discover()
    {
        var warnings = new DiscoveryWarnings();
        try
        {
            _sysfs.StartRecording();
            HostTopology topology = Build(warnings);
            // The hash of what was read is taken while reading it: no second pass over the tree.
            _recording = _sysfs.StopRecording();
            _memTotal = topology.MemoryTotalBytes;
            return topology;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or FormatException or OverflowException)
        {
            // Defensive: readers report problems as warnings; an exception here is a bug, and still not fatal.
            _sysfs.StopRecording();
            warnings.Add(SysfsRoot.DisplayPath(string.Empty), null, "discovery failed: " + ex.Message);
            return new HostTopology
            {
                Cpus = new CpuTopology { Online = CpuSet.Empty, Possible = CpuSet.Empty, Present = CpuSet.Empty, Cpus = [] },
                NumaNodes = [],
                PciDevices = [],
                Warnings = warnings.Items,
            };
        }
    }

    /// <summary>
    /// The cheap change check for a rescan: re-reads the files, links and directories the last <see cref="Discover"/>
    /// read in sysfs (except values like MemFree that change all the time; of the nodes' meminfo only MemTotal), the
    /// block and net class links the host-needed devices were found through among them, and hashes them; reads MemTotal
    /// of procfs <c>meminfo</c> again; and reads procfs <c>self/mounts</c> and <c>net/route</c> again for the device
    /// mounted on <c>/</c> and the default route's interface (<see cref="HostNeededDevices.HasChanged"/>). Allocates
    /// nothing. True when something differs (or nothing was discovered yet); then call <see cref="Discover"/>.
    /// </summary>
    public bool HasChanged()
    {
        if (_recording is null || _recording.Replay() != _recording.Hash)
        {
            return true;
        }

        if (_procfs is null)
        {
            return false;
        }

        return MeminfoReader.ReReadMemTotal(_meminfoPath ??= _procfs.NativePath(MeminfoReader.File)) != _memTotal || _hostNeeded!.HasChanged();
    }

    /// <summary>The hash the last <see cref="Discover"/> took of what it read; null before the first.</summary>
    internal ulong? RecordedHash => _recording?.Hash;

    private HostTopology Build(DiscoveryWarnings warnings)
    {
        IReadOnlyList<NumaNode> nodes = NodeReader.ReadAll(_sysfs, warnings);
        var nodeOfCpu = new Dictionary<int, int>();
        foreach (NumaNode n in nodes)
        {
            foreach (int cpu in n.Cpus)
            {
                nodeOfCpu[cpu] = n.Id;
            }
        }

        CpuTopology cpus;
        IReadOnlyList<PciDevice> devices;
        IReadOnlyList<IommuGroup> groups;
        IReadOnlyList<NetDevice> net;
        if (ReadThreads <= 1)
        {
            cpus = CpuReader.Read(_sysfs, nodeOfCpu, warnings);
            devices = PciDeviceReader.ReadAll(_sysfs, warnings, 1);
            groups = IommuGroupReader.ReadAll(_sysfs, warnings);
            net = NetClassReader.ReadAll(_sysfs, warnings);
        }
        else
        {
            // The same reads on several threads: the CPU topology, the IOMMU groups and the net classes (a few hundred
            // small files and listings) as one piece of work beside the PCI functions, which are shared out one at a
            // time. Each part reads through its own fork and is merged back in the order above, so the warnings and the
            // rescan's hash are the one-thread ones.
            var cpuPart = new Part(_sysfs);
            var pciPart = new Part(_sysfs);
            var iommuPart = new Part(_sysfs);
            var netPart = new Part(_sysfs);
            CpuTopology? cpusRead = null;
            IReadOnlyList<IommuGroup> groupsRead = [];
            IReadOnlyList<NetDevice> netRead = [];
            devices = PciDeviceReader.ReadAll(pciPart.Root, pciPart.Warnings, ReadThreads, () =>
            {
                cpusRead = CpuReader.Read(cpuPart.Root, nodeOfCpu, cpuPart.Warnings);
                groupsRead = IommuGroupReader.ReadAll(iommuPart.Root, iommuPart.Warnings);
                netRead = NetClassReader.ReadAll(netPart.Root, netPart.Warnings);
            });
            cpuPart.MergeInto(_sysfs, warnings);
            pciPart.MergeInto(_sysfs, warnings);
            iommuPart.MergeInto(_sysfs, warnings);
            netPart.MergeInto(_sysfs, warnings);
            (cpus, groups, net) = (cpusRead!, groupsRead, netRead);
        }

        IReadOnlyList<HugepageSize> hugepages = HugepagesReader.ReadSystem(_sysfs, warnings);
        (long? memTotal, long? memFree) = _procfs is null ? (null, null) : MeminfoReader.Read(_procfs, warnings);
        CheckNodeMemory(nodes, memTotal, warnings);
        // Only with CPUs: a tree without any (a wrong --sysfs-root) must not become an invented one-node machine.
        if (nodes.Count == 0 && !cpus.Online.IsEmpty)
        {
            nodes = [WithoutNuma(cpus.Online, memTotal, memFree, hugepages)];
        }

        return new HostTopology
        {
            Cpus = cpus,
            NumaNodes = nodes,
            PciDevices = WithPortLimits(WithKnownNodes(devices, nodes, warnings)),
            IommuGroups = groups,
            NetDevices = net,
            Hugepages = hugepages,
            HostNeeded = _hostNeeded is null ? new Dictionary<PciAddress, string>() : _hostNeeded.Read(warnings),
            MemoryTotalBytes = memTotal,
            KernelCommandLine = _procfs is null ? null : CmdlineReader.Read(_procfs, warnings),
            Warnings = warnings.Items,
        };
    }

    /// <summary>
    /// Warns when the nodes' MemTotal, added up, and the machine's MemTotal (<c>/proc/meminfo</c>) disagree by more
    /// than a tenth of the machine's memory plus 256 MiB. Both count the same pages (those the kernel manages), so on a
    /// sound kernel they agree to a few pages; the tolerance only absorbs a hotplug between the two reads (memory
    /// blocks are 2 GiB on x86 machines above 64 GiB, well under a tenth; 128 MiB below that, under the 256 MiB) and
    /// catches what it is meant for: a KVM guest whose node0 said 4.3 GiB of a 125.9 GiB machine. The figures are
    /// reported as the kernel gives them; the warning says that they cannot both be right. Skipped when a node's
    /// memory or MemTotal is unknown (already warned about).
    /// </summary>
    private static void CheckNodeMemory(IReadOnlyList<NumaNode> nodes, long? memTotal, DiscoveryWarnings warnings)
    {
        const long Slack = 256L << 20;
        if (memTotal is not { } total || nodes.Count == 0)
        {
            return;
        }

        long sum = 0;
        foreach (NumaNode n in nodes)
        {
            if (n.MemoryTotalBytes is not { } bytes)
            {
                return;
            }

            sum += bytes;
        }

        if (Math.Abs(sum - total) > (total / 10) + Slack)
        {
            warnings.Add(SysfsRoot.DisplayPath(NodeReader.Directory), null, System.FormattableString.Invariant(
                $"the NUMA nodes' MemTotal add up to {Gib(sum)} ({sum / 1024} kB) but {ProcfsRoot.DisplayPath(MeminfoReader.File)} MemTotal is {Gib(total)} ({total / 1024} kB); both are reported as the kernel gives them, and cannot both be right"));
        }

        static string Gib(long bytes) => (bytes / (1024.0 * 1024 * 1024)).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " GiB";
    }

    /// <summary>
    /// Each device's link with the maximum speed and width of the port above it (its nearest upstream bridge, whose
    /// max_link_speed/max_link_width the bridge's own reader read), so that the link is judged against what both ends
    /// support: a card in a slower or narrower slot trains to the slot, and that is not a degraded link.
    /// </summary>
    private static IReadOnlyList<PciDevice> WithPortLimits(IReadOnlyList<PciDevice> devices)
    {
        var byAddress = new Dictionary<PciAddress, PciDevice>(devices.Count);
        foreach (PciDevice d in devices)
        {
            byAddress.TryAdd(d.Address, d);
        }

        PciDevice[]? result = null;
        for (int i = 0; i < devices.Count; i++)
        {
            PciDevice d = devices[i];
            if (d.Link is { } link && d.UpstreamBridges.Count > 0 &&
                byAddress.TryGetValue(d.UpstreamBridges[0], out PciDevice? port) && port.Link is { } portLink)
            {
                result ??= [.. devices];
                result[i] = d with { Link = link with { PortMaxSpeedGts = portLink.MaxSpeedGts, PortMaxWidth = portLink.MaxWidth } };
            }
        }

        return result ?? devices;
    }

    /// <summary>
    /// Each device's <c>numa_node</c> checked against the nodes read: a node that does not exist (7 on a two-node
    /// machine, a damaged file) is unknown, with a warning, not a node a lease could be placed by.
    /// </summary>
    private static IReadOnlyList<PciDevice> WithKnownNodes(IReadOnlyList<PciDevice> devices, IReadOnlyList<NumaNode> nodes, DiscoveryWarnings warnings)
    {
        PciDevice[]? result = null;
        for (int i = 0; i < devices.Count; i++)
        {
            PciDevice d = devices[i];
            if (d.NumaNode is { } node && !HasNode(nodes, node))
            {
                warnings.Add(SysfsRoot.DisplayPath(PciDeviceReader.DevicesDirectory + "/" + d.Address + "/numa_node"), node.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    $"numa_node of {d.Address} names node {node}, which does not exist ({nodes.Count} nodes); NUMA node unknown");
                result ??= [.. devices];
                result[i] = d with { NumaNode = null };
            }
        }

        return result ?? devices;

        static bool HasNode(IReadOnlyList<NumaNode> nodes, int id)
        {
            foreach (NumaNode n in nodes)
            {
                if (n.Id == id)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// The one node of a kernel built without NUMA (no <c>devices/system/node</c>): the kernel treats the whole machine
    /// as node 0, and so does hwloc. Every CPU, the memory of procfs <c>meminfo</c> and the system-wide hugepage pools.
    /// </summary>
    private static NumaNode WithoutNuma(CpuSet cpus, long? memTotal, long? memFree, IReadOnlyList<HugepageSize> hugepages) => new()
    {
        Id = 0,
        Cpus = cpus,
        MemoryTotalBytes = memTotal,
        MemoryFreeBytes = memFree,
        Distances = [10],
        Hugepages = [.. hugepages.Select(h => new HugepagePool(h.PageSizeKiB, h.Total, h.Free, h.Surplus))],
    };

    /// <summary>One part of discovery read on another thread: a fork of the root and the part's own warnings.</summary>
    private sealed class Part(SysfsRoot root)
    {
        public SysfsRoot Root { get; } = root.Fork();

        public DiscoveryWarnings Warnings { get; } = new();

        /// <summary>Records the part's reads in <paramref name="root"/> and adds its warnings, as if read there.</summary>
        public void MergeInto(SysfsRoot root, DiscoveryWarnings warnings)
        {
            root.Merge(Root);
            warnings.AddFrom(Warnings);
        }
    }
}
