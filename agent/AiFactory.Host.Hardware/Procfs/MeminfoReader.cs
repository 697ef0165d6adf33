using System.Globalization;
using AiFactory.Host.Hardware.Discovery;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>Reads <c>/proc/meminfo</c>: MemTotal.</summary>
public static class MeminfoReader
{
    /// <summary>MemTotal in bytes, or null when missing or unparsable (with a warning).</summary>
    public static long? ReadMemTotal(ProcfsRoot root, DiscoveryWarnings warnings)
    {
        string? raw = root.ReadSmallFile("meminfo", warnings);
        if (raw is null)
        {
            return null;
        }

        if (TryParseField(raw, "MemTotal", out long kib))
        {
            return kib * 1024;
        }

        warnings.Add(ProcfsRoot.DisplayPath("meminfo"), raw, "no parsable MemTotal line");
        return null;
    }

    /// <summary>One field of <c>/proc/meminfo</c> (<c>MemTotal:  2113349080 kB</c>), in the file's unit (kB or a count).</summary>
    public static bool TryParseField(string raw, string field, out long value)
    {
        value = 0;
        foreach (ReadOnlySpan<char> line in raw.AsSpan().EnumerateLines())
        {
            int colon = line.IndexOf(':');
            if (colon <= 0 || !line[..colon].SequenceEqual(field))
            {
                continue;
            }

            ReadOnlySpan<char> v = line[(colon + 1)..].Trim();
            if (v.EndsWith(" kB", StringComparison.Ordinal))
            {
                v = v[..^3].TrimEnd();
            }

            return long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value < long.MaxValue / 1024;
        }

        return false;
    }
}
