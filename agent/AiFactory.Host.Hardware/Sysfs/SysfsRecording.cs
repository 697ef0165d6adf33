using System.Runtime.CompilerServices;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// What one discovery read (files, links, directory listings), grouped by directory, with a hash of what was seen
/// taken while reading it. <see cref="Replay"/> reads the same things again, one descriptor per directory, and
/// hashes them the same way without allocating: the cheap change check of a rescan. Each item's hash is mixed with
/// its position and the results summed, so the order in which discovery read things does not have to be replayed.
/// </summary>
[SkipLocalsInit]
internal sealed class SysfsRecording
{
    private const int DescriptorThreshold = 6;

    /// <summary>Mixed into a MemTotal file's hash when the file is longer than <see cref="SysfsFile.MaxSize"/>.</summary>
    private const ulong OversizedMemTotal = 0x6d656d746f74616cUL;
    private readonly SysfsPaths _paths;
    private readonly List<RecordedDirectory> _directories = [];
    private readonly Dictionary<string, RecordedDirectory> _byPath = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RecordedDirectory>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly List<LoggedRead>? _log;
    private int _count;

    /// <param name="paths">How the root's paths are opened.</param>
    /// <param name="forked">
    /// True for the recording of a fork that reads part of the tree on another thread: it only logs each read in
    /// order (no positions, no hash) for <see cref="AppendFrom"/> to replay into the parent in a fixed order.
    /// </param>
    public SysfsRecording(SysfsPaths paths, bool forked = false)
    {
        _paths = paths;
        _lookup = _byPath.GetAlternateLookup<ReadOnlySpan<char>>();
        _log = forked ? [] : null;
    }

    /// <summary>The kind of a recorded read.</summary>
    public enum Kind : byte
    {
        File,
        Link,
        Listing,

        /// <summary>A meminfo file of which only the MemTotal line counts (MemFree and the rest change all the time).</summary>
        MemTotal,

        /// <summary>A CPU list, read with the larger limit (<see cref="SysfsFile.MaxListSize"/>).</summary>
        ListFile,
    }

    /// <summary>The hash of everything recorded, as it was read.</summary>
    public ulong Hash { get; private set; }

    /// <summary>The group for the directory <paramref name="relative"/> (relative to the root, no trailing slash).</summary>
    public RecordedDirectory Directory(ReadOnlySpan<char> relative)
    {
        if (!_lookup.TryGetValue(relative, out RecordedDirectory? d))
        {
            d = new RecordedDirectory(relative.ToString());
            _byPath.Add(d.Relative, d);
            _directories.Add(d);
        }

        return d;
    }

    /// <summary>How many reads a forked recording has logged so far.</summary>
    public int LoggedCount => _log?.Count ?? 0;

    /// <summary>Records one read of <paramref name="name"/> in <paramref name="directory"/> and what it gave.</summary>
    public void Add(RecordedDirectory directory, Kind kind, string name, ulong contentHash)
    {
        if (_log is not null)
        {
            _log.Add(new LoggedRead(directory.Relative, kind, name, contentHash));
            return;
        }

        int position = _count++;
        directory.Items.Add(new RecordedItem(kind, name, position));
        directory.Listed |= kind == Kind.Listing;
        Hash += Mix(contentHash, position);
    }

    /// <summary>
    /// Records the reads <paramref name="fork"/> logged from <paramref name="start"/> (inclusive) to <paramref name="end"/>
    /// as if they had been read here, in that order: positions and hash come out as for a read on one thread.
    /// </summary>
    public void AppendFrom(SysfsRecording fork, int start, int end)
    {
        List<LoggedRead> log = fork._log ?? throw new InvalidOperationException("not a forked recording");
        _log?.EnsureCapacity(_log.Count + end - start);
        RecordedDirectory? directory = null;
        string? previous = null;
        for (int i = start; i < end; i++)
        {
            // Reads come in runs per directory (a device's attributes, logged with the fork's one string for it):
            // look the group up once per run.
            LoggedRead r = log[i];
            if (directory is null || !ReferenceEquals(previous, r.Directory))
            {
                directory = Directory(r.Directory);
                previous = r.Directory;
            }

            Add(directory, r.Kind, r.Name, r.ContentHash);
        }
    }

    /// <summary>Reads everything recorded again and hashes it like <see cref="Hash"/>; allocates nothing.</summary>
    public ulong Replay()
    {
        ulong total = 0;
        // Each file is read with the limit discovery read it with (one byte over it), so that the same file hashes the same.
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxListSize + 1];
        foreach (RecordedDirectory d in _directories)
        {
            // A descriptor costs an open and a close: worth it for a listing or a device's worth of attributes;
            // a few files (a CPU's topology) are cheaper by full path. Both give the same outcome per read.
            int errno = 0;
            int fd = -1;
            if (d.Listed || d.Items.Count >= DescriptorThreshold)
            {
                fd = _paths.OpenDirectory(d.Relative, out errno);
            }

            var dir = new DirectoryLocation(fd, errno, d.Relative);
            bool listed = false;
            foreach (RecordedItem item in d.Items)
            {
                ulong h = item.Kind switch
                {
                    Kind.File or Kind.MemTotal => HashFile(dir, _paths, item, buffer[..(SysfsFile.MaxSize + 1)]),
                    Kind.ListFile => HashFile(dir, _paths, item, buffer),
                    Kind.Link => HashLink(dir, _paths, item.Name, buffer[..SysfsFile.MaxPath]),
                    _ => HashListing(dir, buffer[..SysfsFile.MaxSize], ref listed),
                };
                total += Mix(h, item.Position);
            }

            if (fd >= 0)
            {
                SysfsFile.Close(fd);
            }
        }

        return total;
    }

    /// <summary>The hash of one file read: its outcome and its bytes.</summary>
    public static ulong FileHash(SysfsFile.Status status, ReadOnlySpan<byte> content)
    {
        ulong h = Fnv((14695981039346656037UL ^ (ulong)status) * 1099511628211UL, content);
        return h;
    }

    /// <summary>
    /// The hash of one file read as <paramref name="kind"/>: all of it, or only its MemTotal line and whether the file
    /// passed the read limit (discovery ignores it then, so growing past the limit or shrinking back is a change).
    /// </summary>
    public static ulong FileHash(Kind kind, SysfsFile.Status status, ReadOnlySpan<byte> content) =>
        kind == Kind.MemTotal
            ? FileHash(status, MemTotalLine(content)) ^ (content.Length > SysfsFile.MaxSize ? OversizedMemTotal : 0)
            : FileHash(status, content);

    /// <summary>
    /// The MemTotal line of a meminfo file (<c>Node 0 MemTotal:  1056457432 kB</c>, <c>MemTotal:  2113349080 kB</c>),
    /// from the key to the end of the line; empty when there is none.
    /// </summary>
    public static ReadOnlySpan<byte> MemTotalLine(ReadOnlySpan<byte> content)
    {
        int start = content.IndexOf("MemTotal:"u8);
        if (start < 0)
        {
            return [];
        }

        ReadOnlySpan<byte> line = content[start..];
        int end = line.IndexOf((byte)'\n');
        return end < 0 ? line : line[..end];
    }

    /// <summary>The hash of one link read: its target, or its length when there is none (0, -1).</summary>
    public static ulong LinkHash(int length, ReadOnlySpan<byte> target) =>
        length > 0 ? Fnv(14695981039346656037UL ^ 0xfd, target[..length]) : 0xfd00UL + (ulong)(length + 2);

    /// <summary>The hash of one listing: the names' hash, or a marker when the directory could not be listed.</summary>
    public static ulong ListingHash(bool listed, ulong namesHash) => listed ? namesHash ^ 0xfe : 0xfeUL << 8;

    private static ulong HashFile(DirectoryLocation dir, SysfsPaths paths, RecordedItem item, Span<byte> buffer)
    {
        int n = dir.ReadFile(paths, item.Name, buffer, out SysfsFile.Status status, out _);
        return FileHash(item.Kind, status, n > 0 ? buffer[..n] : []);
    }

    private static ulong HashLink(DirectoryLocation dir, SysfsPaths paths, string name, Span<byte> buffer)
    {
        int n = dir.ReadLink(paths, name, buffer, out _);
        return LinkHash(n, buffer);
    }

    private static ulong HashListing(DirectoryLocation dir, Span<byte> buffer, ref bool listed)
    {
        if (dir.Fd < 0)
        {
            return ListingHash(false, 0);
        }

        if (listed)
        {
            // A second listing of the same descriptor must start from the beginning.
            _ = Libc.LSeek(dir.Fd, 0, Libc.SEEK_SET);
        }

        listed = true;
        return ListingHash(DirectoryEntries.TryHash(dir.Fd, buffer, out ulong names), names);
    }

    private static ulong Fnv(ulong h, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            h = (h ^ b) * 1099511628211UL;
        }

        return h;
    }

    private static ulong Mix(ulong h, int position)
    {
        // splitmix64 finaliser over the item hash and its position.
        ulong z = h + ((ulong)position * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The reads recorded in one directory.</summary>
    internal sealed class RecordedDirectory(string relative)
    {
        public string Relative { get; } = relative;

        public List<RecordedItem> Items { get; } = [];

        public bool Listed { get; set; }
    }

    /// <summary>One read logged by a fork, with the hash of what it gave.</summary>
    private readonly record struct LoggedRead(string Directory, Kind Kind, string Name, ulong ContentHash);

    /// <summary>One recorded read.</summary>
    internal readonly record struct RecordedItem(Kind Kind, string Name, int Position);
}
