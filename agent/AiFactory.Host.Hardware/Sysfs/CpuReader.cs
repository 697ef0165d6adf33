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

    /// <summary>Reads the CPUs; <paramref name="nodeOfCpu"/> gives each CPU's NUMA node (from the node reader).</summary>
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
        var packageOf = new Dictionary<int, int>();
        var dieOf = new Dictionary<int, int>();
        foreach (int id in online)
        {
            int nodeOf = nodeOfCpu.TryGetValue(id, out int n) ? n : 0;
            if (siblingOf.Remove(id, out LogicalCpu? sibling))
            {
                cpus.Add(sibling with { Id = id, NumaNode = nodeOf });
                continue;
            }

            string topo = Directory + "/cpu" + id.ToString(CultureInfo.InvariantCulture) + "/topology/";
            int socket = SharedId(root, id, topo, "physical_package_id", "package_cpus_list", packageOf, warnings) ?? 0;
            int die = SharedId(root, id, topo, "die_id", "die_cpus_list", dieOf, warnings) ?? 0;
            int core = Id(root, topo + "core_id", warnings) ?? id;
            string? siblingsRaw = root.ReadAttribute(topo + "thread_siblings_list", warnings);
            CpuSet siblings = CpuSet.Of(id);
            if (siblingsRaw is not null)
            {
                if (CpuSet.TryParse(siblingsRaw, out CpuSet? s, out string? error))
                {
                    siblings = s;
                }
                else
                {
                    warnings.Add(SysfsRoot.DisplayPath(topo + "thread_siblings_list"), siblingsRaw, error);
                }
            }

            var cpu = new LogicalCpu(id, socket, die, core, siblings, nodeOf);
            cpus.Add(cpu);
            foreach (int other in siblings)
            {
                if (other > id && online.Contains(other))
                {
                    siblingOf[other] = cpu;
                }
            }
        }

        return new CpuTopology { Online = online, Possible = possible, Present = present, Isolated = isolated, NohzFull = nohz, Cpus = cpus };
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
    /// read now and, when it is valid, given to every CPU in <paramref name="cpusFile"/> (which must list this CPU).
    /// </summary>
    private static int? SharedId(SysfsRoot root, int id, string topo, string idFile, string cpusFile, Dictionary<int, int> known, DiscoveryWarnings warnings)
    {
        if (known.TryGetValue(id, out int shared))
        {
            return shared;
        }

        int? value = Id(root, topo + idFile, warnings);
        if (value is null)
        {
            return null;
        }

        // Not a warning when absent (older kernels) or unparsable: the other CPUs' id files are read then.
        string? raw = root.ReadAttribute(topo + cpusFile, warnings);
        if (raw is not null && CpuSet.TryParse(raw, out CpuSet? set, out _) && set.Contains(id))
        {
            foreach (int other in set)
            {
                known[other] = value.Value;
            }
        }

        return value;
    }

    private static int? Id(SysfsRoot root, string relative, DiscoveryWarnings warnings)
    {
        string? raw = root.ReadAttribute(relative, warnings);
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
        string? raw = root.ReadAttribute(Directory + "/" + name, warnings);
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
