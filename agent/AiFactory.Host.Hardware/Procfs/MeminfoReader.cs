using System.Globalization;
using AiFactory.Host.Hardware.Discovery;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>Reads <c>/proc/meminfo</c>: MemTotal.</summary>
public static class MeminfoReader
{
    /// <summary>The file read, relative to the procfs root.</summary>
    public const string File = "meminfo";

    /// <summary>MemTotal in bytes, or null when missing or unparsable (with a warning).</summary>
    public static long? ReadMemTotal(ProcfsRoot root, DiscoveryWarnings warnings) => Read(root, warnings).TotalBytes;

    /// <summary>MemTotal and MemFree in bytes; null when missing or unparsable (MemTotal with a warning).</summary>
    public static (long? TotalBytes, long? FreeBytes) Read(ProcfsRoot root, DiscoveryWarnings warnings)
    {
        string? raw = root.ReadSmallFile(File, warnings);
        if (raw is null)
        {
            return (null, null);
        }

        long? free = TryParseField(raw, "MemFree", out long freeKib) ? freeKib * 1024 : null;
        if (TryParseField(raw, "MemTotal", out long kib))
        {
            return (kib * 1024, free);
        }

        warnings.Add(ProcfsRoot.DisplayPath(File), raw, "no parsable MemTotal line");
        return (null, free);
    }

    /// <summary>
    /// MemTotal in bytes read again for a rescan's change check, without allocating: <paramref name="path"/> is
    /// <see cref="ProcfsRoot.NativePath"/> of <see cref="File"/>. Null when missing, unreadable or unparsable (as
    /// <see cref="ReadMemTotal"/> gives then), and null when longer than one bounded read, as discovery ignores it then:
    /// a MemTotal parsed from the first 4 KiB would differ from what discovery saw and rediscover at every rescan.
    /// </summary>
    internal static long? ReReadMemTotal(byte[] path)
    {
        Span<byte> buffer = stackalloc byte[Sysfs.SysfsFile.MaxSize + 1];
        int n = Sysfs.SysfsFile.Read(path, buffer, out Sysfs.SysfsFile.Status status, out _);
        return status == Sysfs.SysfsFile.Status.Ok && n <= Sysfs.SysfsFile.MaxSize && TryParseMemTotal(buffer[..n], out long kib) ? kib * 1024 : null;
    }

    /// <summary>MemTotal of raw <c>/proc/meminfo</c> bytes, in kB: the same answer as <see cref="TryParseField"/>.</summary>
    public static bool TryParseMemTotal(ReadOnlySpan<byte> raw, out long kib)
    {
        kib = 0;
        foreach (Range r in raw.Split((byte)'\n'))
        {
            ReadOnlySpan<byte> line = raw[r];
            if (!line.StartsWith("MemTotal:"u8))
            {
                continue;
            }

            ReadOnlySpan<byte> v = line["MemTotal:".Length..].Trim((byte)' ');
            if (v.EndsWith(" kB"u8))
            {
                v = v[..^3].TrimEnd((byte)' ');
            }

            // Digits only, as NumberStyles.None in TryParseField: no sign, no spaces inside.
            return !v.IsEmpty && v.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0 &&
                System.Buffers.Text.Utf8Parser.TryParse(v, out kib, out int consumed) && consumed == v.Length && kib < long.MaxValue / 1024;
        }

        return false;
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
