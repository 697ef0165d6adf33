namespace AiFactory.Host.Model.Cpu;

/// <summary>The CPUs from <c>/sys/devices/system/cpu</c>.</summary>
public sealed record CpuTopology
{
    /// <summary><c>online</c>.</summary>
    public required CpuSet Online { get; init; }

    /// <summary><c>possible</c>.</summary>
    public required CpuSet Possible { get; init; }

    /// <summary><c>present</c>.</summary>
    public required CpuSet Present { get; init; }

    /// <summary><c>isolated</c> (isolcpus=); empty when none.</summary>
    public CpuSet Isolated { get; init; } = CpuSet.Empty;

    /// <summary><c>nohz_full</c>; empty when none or "(null)".</summary>
    public CpuSet NohzFull { get; init; } = CpuSet.Empty;

    /// <summary>Every online logical CPU, by id.</summary>
    public required IReadOnlyList<LogicalCpu> Cpus { get; init; }

    /// <summary>The number of physical cores: distinct (socket, die, core) triples among the online CPUs.</summary>
    public int CoreCount
    {
        get
        {
            var cores = new HashSet<(int, int, int)>();
            foreach (LogicalCpu c in Cpus)
            {
                cores.Add((c.Socket, c.Die, c.Core));
            }

            return cores.Count;
        }
    }
}

/// <summary>One logical CPU (a hardware thread) and where it sits.</summary>
/// <param name="Id">The CPU id.</param>
/// <param name="Socket"><c>topology/physical_package_id</c>.</param>
/// <param name="Die"><c>topology/die_id</c> (0 when absent).</param>
/// <param name="Core"><c>topology/core_id</c> (unique within a package, not across packages).</param>
/// <param name="ThreadSiblings"><c>topology/thread_siblings_list</c>: the CPUs sharing this one's physical core.</param>
/// <param name="NumaNode">The NUMA node whose <c>cpulist</c> holds this CPU (0 on a machine without NUMA nodes in sysfs).</param>
public sealed record LogicalCpu(int Id, int Socket, int Die, int Core, CpuSet ThreadSiblings, int NumaNode);
