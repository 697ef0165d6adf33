using System.Globalization;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Memory;
using AiFactory.Host.Model.Numa;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Reads hugepage pools: system-wide <c>/sys/kernel/mm/hugepages/hugepages-&lt;size&gt;kB/{nr,free,resv,surplus}_hugepages</c>
/// and per node <c>/sys/devices/system/node/nodeN/hugepages/hugepages-&lt;size&gt;kB/{nr,free,surplus}_hugepages</c>.
/// </summary>
public static class HugepagesReader
{
    /// <summary>The system-wide directory.</summary>
    public const string Directory = "kernel/mm/hugepages";

    /// <summary>The system-wide pools, by page size.</summary>
    public static IReadOnlyList<HugepageSize> ReadSystem(SysfsRoot root, DiscoveryWarnings warnings)
    {
        var sizes = new List<HugepageSize>();
        foreach ((long size, string dir) in Sizes(root, Directory, warnings))
        {
            long? total = Count(root, dir + "/nr_hugepages", warnings, required: true);
            long? free = Count(root, dir + "/free_hugepages", warnings, required: true);
            long? resv = Count(root, dir + "/resv_hugepages", warnings, required: false);
            long? surplus = Count(root, dir + "/surplus_hugepages", warnings, required: false);
            if (Known(dir, total, free, warnings))
            {
                sizes.Add(new HugepageSize(size, total!.Value, free!.Value, resv ?? 0, surplus ?? 0));
            }
        }

        return sizes;
    }

    /// <summary>The pools under a node's <c>hugepages</c> directory, by page size.</summary>
    public static IReadOnlyList<HugepagePool> ReadPools(SysfsRoot root, string directory, DiscoveryWarnings warnings)
    {
        var pools = new List<HugepagePool>();
        foreach ((long size, string dir) in Sizes(root, directory, warnings))
        {
            long? total = Count(root, dir + "/nr_hugepages", warnings, required: true);
            long? free = Count(root, dir + "/free_hugepages", warnings, required: true);
            long? surplus = Count(root, dir + "/surplus_hugepages", warnings, required: false);
            if (Known(dir, total, free, warnings))
            {
                pools.Add(new HugepagePool(size, total!.Value, free!.Value, surplus ?? 0));
            }
        }

        return pools;
    }

    /// <summary>The page size in KiB from a directory name <c>hugepages-2048kB</c>; false for anything else.</summary>
    public static bool TryParseSizeDirectory(string name, out long kib)
    {
        kib = 0;
        return name.StartsWith("hugepages-", StringComparison.Ordinal) && name.EndsWith("kB", StringComparison.Ordinal) &&
            long.TryParse(name.AsSpan(10, name.Length - 12), NumberStyles.None, CultureInfo.InvariantCulture, out kib) && kib > 0 && kib <= 16L * 1024 * 1024;
    }

    private static List<(long Size, string Dir)> Sizes(SysfsRoot root, string directory, DiscoveryWarnings warnings)
    {
        var result = new List<(long, string)>();
        foreach (string name in root.List(directory, warnings))
        {
            if (TryParseSizeDirectory(name, out long kib))
            {
                result.Add((kib, directory + "/" + name));
            }
            else
            {
                warnings.Add(SysfsRoot.DisplayPath(directory + "/" + name), name, "not a hugepages-<size>kB directory; ignored");
            }
        }

        result.Sort(static (a, b) => a.Item1.CompareTo(b.Item1));
        return result;
    }

    /// <summary>
    /// True when a pool's size and free count are both known and consistent. A pool with an unknown or impossible count
    /// is left out (with a warning): counted as 0 pages, a lease could still be planned on its free pages, or the
    /// other way round.
    /// </summary>
    private static bool Known(string dir, long? total, long? free, DiscoveryWarnings warnings)
    {
        if (total is null || free is null)
        {
            warnings.Add(SysfsRoot.DisplayPath(dir), null, "hugepage pool size or free count unknown; pool left out");
            return false;
        }

        if (free > total)
        {
            warnings.Add(SysfsRoot.DisplayPath(dir), $"{free} > {total}", "free_hugepages exceeds nr_hugepages; pool left out");
            return false;
        }

        return true;
    }

    /// <summary>A page count; null when unparsable (with a warning), or missing and <paramref name="required"/>.</summary>
    private static long? Count(SysfsRoot root, string relative, DiscoveryWarnings warnings, bool required)
    {
        int warned = warnings.Items.Count;
        string? raw = root.ReadAttribute(relative, warnings);
        if (raw is null)
        {
            if (required && warnings.Items.Count == warned)
            {
                warnings.Add(SysfsRoot.DisplayPath(relative), null, "missing");
            }

            return required ? null : 0;
        }

        if (AttributeParsers.TryParseInt(raw, 0, 1L << 40, out long v, out string? error))
        {
            return v;
        }

        warnings.Add(SysfsRoot.DisplayPath(relative), raw, error!);
        return null;
    }
}
