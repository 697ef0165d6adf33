using System.Globalization;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Cpu;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Reads <c>/sys/devices/system/cpu</c>: <c>online</c>, <c>possible</c>, <c>present</c>, <c>isolated</c>, <c>nohz_full</c>
/// and, per online CPU, <c>cpuN/topology/{physical_package_id,die_id,core_id,thread_siblings_list}</c>. The package and
/// die ids are read once per package and die where the kernel lists their CPUs (<c>package_cpus_list</c>,
/// <c>die_cpus_list</c>, since Linux 5.x), and per core otherwise.
/// </summary>
public static class CpuReader
{
    /// <summary>The directory read.</summary>
    public const string Directory = "devices/system/cpu";

    /// <summary>
    /// Reads the CPUs; <paramref name="nodeOfCpu"/> gives each CPU's NUMA node (from the node reader). Where the kernel
    /// does not know a package or core id (it prints -1), CPUs are grouped as hwloc groups them: by the CPU lists the
    /// kernel gives (<c>package_cpus_list</c>, <c>thread_siblings_list</c>), never all into package 0.
    /// </summary>
    public static CpuTopology Read(SysfsRoot root, IReadOnlyDictionary<int, int> nodeOfCpu, DiscoveryWarnings warnings)
    {
        CpuSet online = List(root, "online", warnings) ?? CpuSet.Empty;
        CpuSet possible = List(root, "possible", warnings) ?? online;
        CpuSet present = List(root, "present", warnings) ?? online;
        CpuSet isolated = List(root, "isolated", warnings) ?? CpuSet.Empty;
        CpuSet nohz = List(root, "nohz_full", warnings) ?? CpuSet.Empty;
        if (online.IsEmpty)
        {
            warnings.Add(SysfsRoot.DisplayPath(Directory + "/online"), null, "no online CPUs listed");
        }

        var cpus = new List<LogicalCpu>(online.Count);

        // SMT siblings share package, die and core: read them once per core (halves the reads on an SMT-2 machine;
        // the kernel keeps thread_siblings_list symmetric).
        var siblingOf = new Dictionary<int, LogicalCpu>();

        // Package and die ids of the CPUs whose package (die) was already read, from that CPU's package_cpus_list
        // (die_cpus_list): the kernel gives every CPU listed there the same id, so the per-CPU files are not read again.
        // A package the kernel does not know gets a provisional id below -1 here, numbered after the known ones at the end.
        var packageOf = new Dictionary<int, int>();
        var dieOf = new Dictionary<int, int>();
        List<int>? withoutNode = null;
        HashSet<int>? withoutCore = null;
        bool provisionalPackages = false;
        foreach (int id in online)
        {
            int nodeOf;
            if (!nodeOfCpu.TryGetValue(id, out nodeOf) && nodeOfCpu.Count > 0)
            {
                (withoutNode ??= []).Add(id);
            }

            if (siblingOf.Remove(id, out LogicalCpu? sibling))
            {
                cpus.Add(sibling with { Id = id, NumaNode = nodeOf });
                continue;
            }

            string topo = Directory + "/cpu" + id.ToString(CultureInfo.InvariantCulture) + "/topology/";
            int? socket = SharedId(root, id, topo, "physical_package_id", "package_cpus_list", packageOf, warnings, out _);
            int die = SharedId(root, id, topo, "die_id", "die_cpus_list", dieOf, warnings, out _) ?? 0;
            int? core = Id(root, topo + "core_id", warnings, out bool coreAbsent);
            string? siblingsRaw = root.ReadList(topo + "thread_siblings_list", warnings);
            CpuSet? siblings = null;
            if (siblingsRaw is not null)
            {
                if (CpuSet.TryParse(siblingsRaw, out CpuSet? s, out string? error) && s.Contains(id))
                {
                    siblings = s;
                }
                else
                {
                    warnings.Add(SysfsRoot.DisplayPath(topo + "thread_siblings_list"), siblingsRaw, error ?? $"does not list cpu{id} itself");
                }
            }

            if (coreAbsent && siblingsRaw is null)
            {
                // Nothing says which core it is on (a damaged tree): placed after the loop, on the core of a CPU that
                // lists it as a thread sibling, if there is one.
                (withoutCore ??= []).Add(id);
            }

            if (socket is null)
            {
                socket = ProvisionalPackage(root, id, topo, packageOf, warnings);
                provisionalPackages = true;
            }

            // An unknown core is the core of its thread siblings: named by the lowest of them, as one core.
            var cpu = new LogicalCpu(id, socket.Value, die, core ?? siblings?.First() ?? id, siblings ?? CpuSet.Of(id), nodeOf);
            cpus.Add(cpu);
            foreach (int other in cpu.ThreadSiblings)
            {
                if (other > id && online.Contains(other))
                {
                    siblingOf[other] = cpu;
                }
            }
        }

        if (withoutNode is not null)
        {
            warnings.Add(SysfsRoot.DisplayPath(NodeReader.Directory), CpuSet.Of(withoutNode).ToString(),
                $"CPUs {CpuSet.Of(withoutNode)} are in no NUMA node's cpulist; their NUMA node is unknown (reported as node 0)");
        }

        if (withoutCore is not null)
        {
            PlaceWithoutCore(cpus, withoutCore, warnings);
        }

        if (provisionalPackages)
        {
            NumberProvisionalPackages(cpus);
        }

        return new CpuTopology { Online = online, Possible = possible, Present = present, Isolated = isolated, NohzFull = nohz, Cpus = cpus };
    }

    /// <summary>
    /// A package the kernel does not number (<c>physical_package_id</c> -1, or unparsable): a provisional id (below -1)
    /// shared by every CPU of this CPU's <c>package_cpus_list</c> (<c>core_siblings_list</c> on kernels before 5.x).
    /// Without either list, every such CPU is counted in one unknown package, with a warning.
    /// </summary>
    private static int ProvisionalPackage(SysfsRoot root, int id, string topo, Dictionary<int, int> packageOf, DiscoveryWarnings warnings)
    {
        int provisional = -2;
        foreach (int v in packageOf.Values)
        {
            provisional = Math.Min(provisional, v - 1);
        }

        string? raw = root.ReadList(topo + "package_cpus_list", warnings) ?? root.ReadList(topo + "core_siblings_list", warnings);
        if (raw is not null && CpuSet.TryParse(raw, out CpuSet? set, out _) && set.Contains(id))
        {
            foreach (int other in set)
            {
                packageOf.TryAdd(other, provisional);
            }

            return provisional;
        }

        if (!packageOf.TryGetValue(-1, out int unknown))
        {
            warnings.Add(SysfsRoot.DisplayPath(topo + "physical_package_id"), null,
                $"cpu{id}: package unknown and no package_cpus_list to group by; CPUs like it are counted as one package");
            unknown = provisional;
            packageOf[-1] = unknown;
        }

        return unknown;
    }

    /// <summary>Gives the provisional packages (ids below -1) the ids after the highest known one, in order of their lowest CPU.</summary>
    private static void NumberProvisionalPackages(List<LogicalCpu> cpus)
    {
        int next = 0;
        foreach (LogicalCpu c in cpus)
        {
            next = Math.Max(next, c.Socket + 1);
        }

        var ids = new Dictionary<int, int>();
        for (int i = 0; i < cpus.Count; i++)
        {
            int s = cpus[i].Socket;
            if (s < -1)
            {
                if (!ids.TryGetValue(s, out int assigned))
                {
                    assigned = next++;
                    ids[s] = assigned;
                }

                cpus[i] = cpus[i] with { Socket = assigned };
            }
        }
    }

    /// <summary>
    /// Places each CPU of <paramref name="withoutCore"/> (no <c>core_id</c>, no <c>thread_siblings_list</c>: its topology
    /// directory is gone) on the core of a CPU whose <c>thread_siblings_list</c> names it, with a warning either way: a
    /// CPU no other names stays a core of its own, and the warning says so.
    /// </summary>
    private static void PlaceWithoutCore(List<LogicalCpu> cpus, HashSet<int> withoutCore, DiscoveryWarnings warnings)
    {
        for (int i = 0; i < cpus.Count; i++)
        {
            LogicalCpu c = cpus[i];
            if (!withoutCore.Contains(c.Id))
            {
                continue;
            }

            string topo = SysfsRoot.DisplayPath(Directory + "/cpu" + c.Id.ToString(CultureInfo.InvariantCulture) + "/topology");
            LogicalCpu? sibling = cpus.Find(o => !withoutCore.Contains(o.Id) && o.ThreadSiblings.Contains(c.Id));
            if (sibling is not null)
            {
                cpus[i] = sibling with { Id = c.Id, NumaNode = c.NumaNode };
                warnings.Add(topo, null, $"cpu{c.Id}: topology files missing; placed on the core of cpu{sibling.Id}, whose thread_siblings_list names it");
            }
            else
            {
                warnings.Add(topo, null, $"cpu{c.Id}: topology files missing and no other CPU names it as a thread sibling; its core is unknown (counted as a core of its own)");
            }
        }
    }

    /// <summary>
    /// A topology id (<c>physical_package_id</c>, <c>die_id</c>, <c>core_id</c>). The kernel prints -1 for "unknown"
    /// on some platforms (s390 dies, ACPI-less arm64 packages): that is null, like a missing file.
    /// </summary>
    public static bool TryParseTopologyId(ReadOnlySpan<char> raw, out int? id, out string? error)
    {
        id = null;
        if (!AttributeParsers.TryParseInt(raw, -1, 1 << 20, out long v, out error))
        {
            return false;
        }

        id = v < 0 ? null : (int)v;
        return true;
    }

    /// <summary>
    /// A package or die id: the one already read for a CPU listed with <paramref name="id"/>, or <paramref name="idFile"/>
    /// read now and, when it is valid, given to every CPU in <paramref name="cpusFile"/> (which must list this CPU). Null
    /// when unknown (-1, unparsable) or <paramref name="absent"/>.
    /// </summary>
    private static int? SharedId(SysfsRoot root, int id, string topo, string idFile, string cpusFile, Dictionary<int, int> known, DiscoveryWarnings warnings, out bool absent)
    {
        absent = false;
        if (known.TryGetValue(id, out int shared))
        {
            return shared;
        }

        int? value = Id(root, topo + idFile, warnings, out absent);
        if (value is null)
        {
            return null;
        }

        // Not a warning when absent (older kernels) or unparsable: the other CPUs' id files are read then.
        string? raw = root.ReadList(topo + cpusFile, warnings);
        if (raw is not null && CpuSet.TryParse(raw, out CpuSet? set, out _) && set.Contains(id))
        {
            foreach (int other in set)
            {
                known[other] = value.Value;
            }
        }

        return value;
    }

    private static int? Id(SysfsRoot root, string relative, DiscoveryWarnings warnings, out bool absent)
    {
        int warned = warnings.Items.Count;
        string? raw = root.ReadAttribute(relative, warnings);
        absent = raw is null && warnings.Items.Count == warned;
        if (raw is null)
        {
            return null;
        }

        if (TryParseTopologyId(raw, out int? id, out string? error))
        {
            return id;
        }

        warnings.Add(SysfsRoot.DisplayPath(relative), raw, error!);
        return null;
    }

    private static CpuSet? List(SysfsRoot root, string name, DiscoveryWarnings warnings)
    {
        string? raw = root.ReadList(Directory + "/" + name, warnings);
        if (raw is null)
        {
            return null;
        }

        if (raw == "(null)")
        {
            return CpuSet.Empty;
        }

        if (CpuSet.TryParse(raw, out CpuSet? set, out string? error))
        {
            return set;
        }

        warnings.Add(SysfsRoot.DisplayPath(Directory + "/" + name), raw, error);
        return null;
    }
}
