using System.Globalization;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Reads <c>/sys/devices/system/node/nodeN</c>: <c>cpulist</c>, <c>meminfo</c>, <c>distance</c> and
/// <c>hugepages/hugepages-&lt;size&gt;kB/{nr,free,surplus}_hugepages</c>. CPU-less nodes (GPU memory on GH200/GB200,
/// CXL memory) are nodes like any other.
/// </summary>
public static class NodeReader
{
    /// <summary>The directory read.</summary>
    public const string Directory = "devices/system/node";

    /// <summary>Every nodeN directory, by id; empty on a kernel without NUMA.</summary>
    public static IReadOnlyList<NumaNode> ReadAll(SysfsRoot root, DiscoveryWarnings warnings)
    {
        var ids = new List<int>();
        foreach (string name in root.List(Directory, warnings))
        {
            if (name.StartsWith("node", StringComparison.Ordinal) && name.Length > 4)
            {
                if (int.TryParse(name.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out int id) && id < 4096)
                {
                    ids.Add(id);
                }
                else
                {
                    warnings.Add(SysfsRoot.DisplayPath(Directory + "/" + name), name, "not a node directory (nodeN); ignored");
                }
            }
        }

        ids.Sort();
        var nodes = new List<NumaNode>(ids.Count);
        foreach (int id in ids)
        {
            nodes.Add(Read(root, id, warnings));
        }

        // A SLIT row has one distance per node: a shorter or longer one cannot be indexed by node position.
        for (int i = 0; i < nodes.Count; i++)
        {
            NumaNode n = nodes[i];
            if (n.Distances.Count != 0 && n.Distances.Count != nodes.Count)
            {
                warnings.Add(SysfsRoot.DisplayPath(Directory + "/node" + n.Id.ToString(CultureInfo.InvariantCulture) + "/distance"), string.Join(' ', n.Distances),
                    $"node{n.Id} distance has {n.Distances.Count} values for {nodes.Count} nodes; distances unknown");
                nodes[i] = n with { Distances = [] };
            }
        }

        return nodes;
    }

    private static NumaNode Read(SysfsRoot root, int id, DiscoveryWarnings warnings)
    {
        string dir = Directory + "/node" + id.ToString(CultureInfo.InvariantCulture);
        CpuSet cpus = CpuSet.Empty;
        int warned = warnings.Items.Count;
        string? cpulist = root.ReadList(dir + "/cpulist", warnings);
        if (cpulist is null && warnings.Items.Count == warned)
        {
            warnings.Add(SysfsRoot.DisplayPath(dir + "/cpulist"), null, $"node{id} has no cpulist (not a node directory?); its CPUs are unknown");
        }
        else if (cpulist is not null)
        {
            if (CpuSet.TryParse(cpulist, out CpuSet? set, out string? error))
            {
                cpus = set;
            }
            else
            {
                warnings.Add(SysfsRoot.DisplayPath(dir + "/cpulist"), cpulist, error);
            }
        }

        long? total = null;
        long? free = null;
        // MemFree changes all the time, MemTotal only with memory hotplug: only the MemTotal line counts as a change.
        // A node whose memory is unknown reports none (null, not 0; a lease can take none of it), with a warning.
        warned = warnings.Items.Count;
        string? meminfo = root.ReadMeminfo(dir + "/meminfo", warnings);
        if (meminfo is null && warnings.Items.Count == warned)
        {
            warnings.Add(SysfsRoot.DisplayPath(dir + "/meminfo"), null, $"node{id} has no meminfo; its memory is unknown");
        }
        else if (meminfo is not null)
        {
            if (TryParseMeminfo(meminfo, out long t, out long f, out string? error))
            {
                (total, free) = (t, f);
            }
            else
            {
                warnings.Add(SysfsRoot.DisplayPath(dir + "/meminfo"), meminfo, error! + $"; node{id}'s memory is unknown");
            }
        }

        IReadOnlyList<int> distances = [];
        string? distance = root.ReadAttribute(dir + "/distance", warnings);
        if (distance is not null)
        {
            if (TryParseDistance(distance, out int[]? d, out string? error))
            {
                distances = d;
            }
            else
            {
                warnings.Add(SysfsRoot.DisplayPath(dir + "/distance"), distance, error!);
            }
        }

        return new NumaNode
        {
            Id = id,
            Cpus = cpus,
            MemoryTotalBytes = total,
            MemoryFreeBytes = free,
            Distances = distances,
            Hugepages = HugepagesReader.ReadPools(root, dir + "/hugepages", warnings),
        };
    }

    /// <summary>
    /// A node's <c>meminfo</c>: lines like <c>Node 0 MemTotal:  1056457432 kB</c>. Returns MemTotal and MemFree in
    /// bytes; MemTotal is required.
    /// </summary>
    public static bool TryParseMeminfo(string raw, out long totalBytes, out long freeBytes, out string? error)
    {
        totalBytes = -1;
        freeBytes = 0;
        error = null;
        foreach (ReadOnlySpan<char> line in raw.AsSpan().EnumerateLines())
        {
            ReadOnlySpan<char> l = line.Trim();
            if (!l.StartsWith("Node ", StringComparison.Ordinal))
            {
                continue;
            }

            int colon = l.IndexOf(':');
            if (colon < 0)
            {
                continue;
            }

            ReadOnlySpan<char> head = l[..colon];
            ReadOnlySpan<char> key = head[(head.LastIndexOf(' ') + 1)..];
            bool isTotal = key.SequenceEqual("MemTotal");
            if (!isTotal && !key.SequenceEqual("MemFree"))
            {
                continue;
            }

            ReadOnlySpan<char> value = l[(colon + 1)..].Trim();
            if (value.EndsWith(" kB", StringComparison.Ordinal))
            {
                value = value[..^3].TrimEnd();
            }

            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long kib) || kib > long.MaxValue / 1024)
            {
                error = $"node meminfo {key.ToString()} \"{Discovery.RawText.Quote(value.ToString())}\" is not a size in kB";
                return false;
            }

            if (isTotal)
            {
                totalBytes = kib * 1024;
            }
            else
            {
                freeBytes = kib * 1024;
            }
        }

        if (totalBytes < 0)
        {
            totalBytes = 0;
            error = "node meminfo has no MemTotal line";
            return false;
        }

        return true;
    }

    /// <summary>A node's <c>distance</c>: one SLIT row, space-separated (<c>10 21</c>); each 10..255.</summary>
    public static bool TryParseDistance(string raw, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out int[]? distances, out string? error)
    {
        distances = null;
        error = null;
        string[] parts = raw.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length is 0 or > 4096)
        {
            error = $"distance \"{Discovery.RawText.Quote(raw)}\" has no values";
            return false;
        }

        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out result[i]) || result[i] is < 10 or > 255)
            {
                error = $"distance \"{Discovery.RawText.Quote(parts[i])}\" is not a SLIT distance (10..255)";
                return false;
            }
        }

        distances = result;
        return true;
    }
}
