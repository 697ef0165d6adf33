using System.Globalization;
using System.Runtime.InteropServices;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>
/// Gives back the page-table mappings a process made of one file's read-only pages during start-up: for the agent, its
/// own executable. A native-AOT executable's start-up reads most of its 24 MB once (the dehydrated type data it expands
/// into <c>.hydrated</c>, the code of configuration, dependency injection and the first discovery) and the kernel maps
/// each fault's 64 KiB neighbourhood too (fault-around), so after start about 20 MiB of the file stay mapped and count in
/// the resident set although the steady state runs a fraction of it. <see cref="Drop"/> unmaps them with
/// <c>madvise(MADV_DONTNEED)</c>; what the daemon runs afterwards faults back in from the page cache (minor faults, no
/// I/O). Only mappings that cannot hold process-private data are touched: not writable, and with no anonymous
/// (copied-on-write) pages, so nothing is lost that the file does not still hold. The page cache itself is untouched,
/// and the file's pages stay cached (and reclaimable) as any file's.
/// </summary>
public static class StartupPages
{
    /// <summary>One mapping of <c>/proc/self/smaps</c>.</summary>
    /// <param name="Start">First address.</param>
    /// <param name="End">First address after it.</param>
    /// <param name="Permissions">The four permission characters (<c>r-xp</c>).</param>
    /// <param name="Path">The mapped file, or the pseudo-name (<c>[heap]</c>), or empty.</param>
    /// <param name="RssBytes">Resident bytes.</param>
    /// <param name="AnonymousBytes">Resident bytes that are private copies (written or copied on write).</param>
    public sealed record Mapping(ulong Start, ulong End, string Permissions, string Path, long RssBytes, long AnonymousBytes)
    {
        /// <summary>Whether dropping its pages can lose nothing: read-only and no private copies.</summary>
        public bool CanDrop => Permissions.Length == 4 && Permissions[1] != 'w' && AnonymousBytes == 0 && End > Start;
    }

    /// <summary>What <see cref="Drop"/> did.</summary>
    /// <param name="Mappings">The read-only mappings of the file that were dropped.</param>
    /// <param name="Skipped">Mappings of the file left alone (writable, or with private copies).</param>
    /// <param name="ResidentBefore">Their resident bytes before.</param>
    /// <param name="ResidentAfter">Their resident bytes right after (what was touched again meanwhile); -1 when not measured.</param>
    public sealed record Result(int Mappings, int Skipped, long ResidentBefore, long ResidentAfter);

    /// <summary>The mappings in an smaps text (<c>/proc/PID/smaps</c>); lines that do not parse are skipped.</summary>
    public static List<Mapping> Parse(string smaps)
    {
        var mappings = new List<Mapping>();
        ulong start = 0, end = 0;
        string? permissions = null, path = null;
        long rss = 0, anonymous = 0;
        foreach (ReadOnlySpan<char> line in smaps.AsSpan().EnumerateLines())
        {
            if (TryParseHeader(line, out ulong s, out ulong e, out string p, out string file))
            {
                Flush();
                (start, end, permissions, path, rss, anonymous) = (s, e, p, file, 0, 0);
            }
            else if (permissions is not null && TryParseKb(line, "Rss:", out long kb))
            {
                rss = kb * 1024;
            }
            else if (permissions is not null && TryParseKb(line, "Anonymous:", out kb))
            {
                anonymous = kb * 1024;
            }
        }

        Flush();
        return mappings;

        void Flush()
        {
            if (permissions is not null)
            {
                mappings.Add(new Mapping(start, end, permissions, path!, rss, anonymous));
            }
        }
    }

    /// <summary>
    /// Drops this process's mappings of <paramref name="path"/>'s pages where <see cref="Mapping.CanDrop"/>, reading
    /// <paramref name="smapsPath"/> (this process's <c>/proc/self/smaps</c>) before and, when
    /// <paramref name="measureAfter"/> (a caller that reports what is left), after; otherwise
    /// <see cref="Result.ResidentAfter"/> is -1 and smaps is parsed once.
    /// </summary>
    /// <exception cref="IOException">smaps cannot be read, or madvise fails (the message names the range and errno).</exception>
    public static Result Drop(string path, string smapsPath = "/proc/self/smaps", bool measureAfter = true)
    {
        List<Mapping> before = Parse(File.ReadAllText(smapsPath)).FindAll(m => IsOf(m, path));
        int dropped = 0, skipped = 0;
        long residentBefore = 0;
        foreach (Mapping mapping in before)
        {
            if (!mapping.CanDrop)
            {
                skipped++;
                continue;
            }

            if (Libc.Madvise((nuint)mapping.Start, (nuint)(mapping.End - mapping.Start), Libc.MADV_DONTNEED) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException(string.Create(CultureInfo.InvariantCulture, $"madvise(MADV_DONTNEED) of {mapping.Start:x}-{mapping.End:x} ({path}) failed: errno {errno}"));
            }

            dropped++;
            residentBefore += mapping.RssBytes;
        }

        if (!measureAfter)
        {
            return new Result(dropped, skipped, residentBefore, -1);
        }

        long residentAfter = 0;
        foreach (Mapping mapping in Parse(File.ReadAllText(smapsPath)))
        {
            if (IsOf(mapping, path) && mapping.CanDrop)
            {
                residentAfter += mapping.RssBytes;
            }
        }

        return new Result(dropped, skipped, residentBefore, residentAfter);
    }

    private static bool IsOf(Mapping mapping, string path) =>
        mapping.Path == path || (mapping.Path.EndsWith(" (deleted)", StringComparison.Ordinal) && mapping.Path.AsSpan(0, mapping.Path.Length - 10).SequenceEqual(path));

    // 7f1c2a000000-7f1c2a029000 r--p 00000000 fd:00 1234                       /usr/bin/aifactory-agent
    private static bool TryParseHeader(ReadOnlySpan<char> line, out ulong start, out ulong end, out string permissions, out string path)
    {
        (start, end, permissions, path) = (0, 0, string.Empty, string.Empty);
        int space = line.IndexOf(' ');
        int dash = line.IndexOf('-');
        if (space <= 0 || dash <= 0 || dash > space
            || !ulong.TryParse(line[..dash], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out start)
            || !ulong.TryParse(line[(dash + 1)..space], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out end))
        {
            return false;
        }

        ReadOnlySpan<char> rest = line[(space + 1)..];
        if (rest.Length < 4)
        {
            return false;
        }

        permissions = rest[..4].ToString();

        // Then offset, device and inode, each followed by spaces, then the path (which may itself hold spaces).
        rest = rest[4..];
        for (int field = 0; field < 3; field++)
        {
            rest = rest.TrimStart(' ');
            int next = rest.IndexOf(' ');
            rest = next < 0 ? [] : rest[next..];
        }

        path = rest.TrimStart(' ').ToString();
        return true;
    }

    private static bool TryParseKb(ReadOnlySpan<char> line, string key, out long kb)
    {
        kb = 0;
        if (!line.StartsWith(key, StringComparison.Ordinal))
        {
            return false;
        }

        ReadOnlySpan<char> value = line[key.Length..].Trim();
        return value.EndsWith(" kB", StringComparison.Ordinal)
            && long.TryParse(value[..^3].TrimEnd(), NumberStyles.None, CultureInfo.InvariantCulture, out kb);
    }
}
