using System.Runtime.CompilerServices;
using System.Text;
using AiFactory.Host.Hardware.Discovery;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Where sysfs is mounted: <c>/sys</c> on a live machine, <c>&lt;fixture&gt;/sys</c> in tests and demos. Every sysfs
/// access goes through this object with paths relative to it; no other code holds "/sys". Links are resolved by
/// hand and refused when they leave the root, so a hostile or broken tree cannot send discovery elsewhere; in any root
/// but the live <c>/sys</c> every path is also opened beneath the root (<see cref="SysfsPaths"/>), so a link to a
/// directory outside (<c>devices/evil -&gt; /tmp/outside</c>) cannot lead there either.
/// </summary>
[SkipLocalsInit]
public sealed class SysfsRoot
{
    private readonly string _prefix;
    private readonly SysfsPaths _paths;
    private SysfsRecording? _recording;

    /// <summary>Opens the tree at <paramref name="mountPoint"/> (made absolute; the directory need not exist).</summary>
    public SysfsRoot(string mountPoint)
        : this(mountPoint, useOpenat2: true)
    {
    }

    /// <summary>As <see cref="SysfsRoot(string)"/>; <paramref name="useOpenat2"/> false keeps a fixture root contained by realpath checks (as on kernels before 5.6).</summary>
    internal SysfsRoot(string mountPoint, bool useOpenat2)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        MountPoint = Path.GetFullPath(mountPoint).TrimEnd('/');
        _prefix = MountPoint + "/";
        _paths = new SysfsPaths(MountPoint, contained: MountPoint is not ("/sys" or ""), useOpenat2);
    }

    private SysfsRoot(SysfsRoot parent)
    {
        MountPoint = parent.MountPoint;
        _prefix = parent._prefix;
        _paths = parent._paths;
        _recording = parent._recording is null ? null : new SysfsRecording(_paths, forked: true);
    }

    /// <summary>The live machine's sysfs.</summary>
    public static SysfsRoot Live { get; } = new("/sys");

    /// <summary>The absolute mount point, without a trailing slash ("" for "/").</summary>
    public string MountPoint { get; }

    /// <summary>The absolute path of <paramref name="relative"/> (e.g. <c>bus/pci/devices</c>).</summary>
    public string PathOf(string relative) => _prefix + relative;

    /// <summary>The path shown in warnings: the kernel path as on a live machine, whatever the root.</summary>
    public static string DisplayPath(string relative) => "/sys/" + relative;

    /// <summary>Starts recording which files, links and directories are read (for the cheap change check of a rescan).</summary>
    internal void StartRecording() => _recording = new SysfsRecording(_paths);

    /// <summary>Stops recording and returns what was read, with the hash of what it held.</summary>
    internal SysfsRecording StopRecording()
    {
        SysfsRecording recording = _recording ?? new SysfsRecording(_paths);
        _recording = null;
        return recording;
    }

    /// <summary>
    /// A root over the same tree for reading part of it on another thread: what it reads is logged apart, and
    /// <see cref="Merge"/> records it here in whatever order the caller fixes (the order a single thread would read in).
    /// </summary>
    internal SysfsRoot Fork() => new(this);

    /// <summary>How many reads this fork has logged; marks where one unit of work starts and ends.</summary>
    internal int LoggedCount => _recording?.LoggedCount ?? 0;

    /// <summary>Records here the reads <paramref name="fork"/> logged from <paramref name="start"/> to <paramref name="end"/>.</summary>
    internal void Merge(SysfsRoot fork, int start, int end)
    {
        if (_recording is not null && fork._recording is not null)
        {
            _recording.AppendFrom(fork._recording, start, end);
        }
    }

    /// <summary>Records here everything <paramref name="fork"/> logged.</summary>
    internal void Merge(SysfsRoot fork) => Merge(fork, 0, fork.LoggedCount);

    /// <summary>
    /// Reads a small attribute with one bounded read and trims it. A missing file is null (attributes are optional
    /// across kernels and devices); an unreadable one is null plus a warning naming the file and the errno.
    /// </summary>
    /// <param name="relative">The attribute, relative to the root.</param>
    /// <param name="warnings">Where an unreadable file is reported.</param>
    /// <param name="changesConstantly">True for values such as MemFree that change all the time and must not count as an inventory change.</param>
    public string? ReadAttribute(string relative, DiscoveryWarnings warnings, bool changesConstantly = false)
    {
        (string directory, string name) = Split(relative);
        return ReadAttribute(new DirectoryLocation(-1, 0, directory), name, warnings, changesConstantly, null);
    }

    /// <summary>
    /// Reads a CPU list attribute (<c>cpulist</c>, <c>local_cpulist</c>, <c>*_cpus_list</c>, <c>online</c>) like
    /// <see cref="ReadAttribute(string, DiscoveryWarnings, bool)"/>, accepting up to <see cref="SysfsFile.MaxListSize"/>
    /// bytes: since Linux 5.17 such a list may exceed a page.
    /// </summary>
    public string? ReadList(string relative, DiscoveryWarnings warnings)
    {
        (string directory, string name) = Split(relative);
        return Read(new DirectoryLocation(-1, 0, directory), name, warnings, SysfsRecording.Kind.ListFile, null);
    }

    /// <summary>
    /// Reads a meminfo file (a NUMA node's <c>meminfo</c>) like <see cref="ReadAttribute(string, DiscoveryWarnings, bool)"/>,
    /// but only its MemTotal line counts for the change check: MemFree and the rest change all the time, MemTotal only
    /// with memory hotplug, which is a change of the inventory.
    /// </summary>
    public string? ReadMeminfo(string relative, DiscoveryWarnings warnings)
    {
        (string directory, string name) = Split(relative);
        return Read(new DirectoryLocation(-1, 0, directory), name, warnings, SysfsRecording.Kind.MemTotal, null);
    }

    /// <summary>
    /// Resolves the symlink at <paramref name="relative"/> to a path relative to the root, or null when it is not a
    /// link, dangles, or leaves the root (the last two with a warning).
    /// </summary>
    public string? ResolveLink(string relative, DiscoveryWarnings warnings)
    {
        (string directory, string name) = Split(relative);
        return ResolveLink(new DirectoryLocation(-1, 0, directory), name, warnings, null);
    }

    /// <summary>The last component of the link's target (a driver name, a group number), or null when not a link.</summary>
    public string? ReadLinkName(string relative, DiscoveryWarnings warnings) => LastComponent(ResolveLink(relative, warnings));

    /// <summary>
    /// The names in a directory, sorted ordinally; empty when it does not exist. Names with a '/' or that are
    /// "." or ".." never come back (readdir cannot produce them, but a name is a path component here).
    /// </summary>
    public IReadOnlyList<string> List(string relative, DiscoveryWarnings warnings)
    {
        using SysfsDirectory directory = OpenDirectory(relative, list: true, warnings);
        return directory.Names();
    }

    /// <summary>True when the entry exists (a dangling link does not).</summary>
    public bool Exists(string relative) => _paths.Contained ? _paths.Exists(relative, out _) : Path.Exists(PathOf(relative));

    /// <summary>True when the root is a directory (a missing or mistyped <c>--sysfs-root</c> is not).</summary>
    public bool IsDirectory()
    {
        int fd = _paths.OpenDirectory(string.Empty, out _);
        if (fd < 0)
        {
            return false;
        }

        SysfsFile.Close(fd);
        return true;
    }

    /// <summary>One bounded read of the file <paramref name="relative"/> into <paramref name="buffer"/>, as discovery reads it (for capture).</summary>
    internal int ReadBytes(string relative, Span<byte> buffer, out SysfsFile.Status status)
    {
        (string directory, string name) = Split(relative);
        return _paths.ReadFile(directory, name, buffer, out status, out _);
    }

    /// <summary>
    /// Opens the directory <paramref name="relative"/> once, so that its attributes are read with <c>openat</c>; with
    /// <paramref name="list"/>, also lists it once so that absent optional attributes cost nothing. A directory that
    /// cannot be opened still works: its reads report missing files or fall back to full paths.
    /// </summary>
    internal SysfsDirectory OpenDirectory(string relative, bool list, DiscoveryWarnings warnings)
    {
        int fd = _paths.OpenDirectory(relative, out int errno);
        if (fd < 0 && errno == SysfsFile.EXDEV)
        {
            warnings.Add(DisplayPath(relative), null, "leaves the sysfs root through a link; ignored");
        }

        SysfsRecording.RecordedDirectory? record = _recording?.Directory(relative);
        DirectoryEntries? entries = null;
        if (list)
        {
            int listErrno = errno;
            if (fd >= 0)
            {
                entries = DirectoryEntries.Read(fd, out listErrno);
            }

            if (record is not null)
            {
                _recording!.Add(record, SysfsRecording.Kind.Listing, string.Empty, SysfsRecording.ListingHash(entries is not null, entries?.Hash() ?? 0));
            }

            if (entries is null && (fd >= 0 || !(SysfsFile.IsMissing(errno) || errno == SysfsFile.EXDEV)))
            {
                warnings.Add(DisplayPath(relative), null, "cannot list: " + SysfsFile.ErrnoName(listErrno));
            }
        }

        return new SysfsDirectory(this, new DirectoryLocation(fd, fd < 0 ? errno : 0, relative), record, entries);
    }

    /// <summary>Reads <paramref name="name"/> in <paramref name="directory"/>; see <see cref="ReadAttribute(string, DiscoveryWarnings, bool)"/>.</summary>
    internal string? ReadAttribute(in DirectoryLocation directory, string name, DiscoveryWarnings warnings, bool changesConstantly, SysfsRecording.RecordedDirectory? record) =>
        Read(directory, name, warnings, changesConstantly ? null : SysfsRecording.Kind.File, record);

    /// <summary>Reads the CPU list <paramref name="name"/> in <paramref name="directory"/>; see <see cref="ReadList(string, DiscoveryWarnings)"/>.</summary>
    internal string? ReadList(in DirectoryLocation directory, string name, DiscoveryWarnings warnings, SysfsRecording.RecordedDirectory? record) =>
        Read(directory, name, warnings, SysfsRecording.Kind.ListFile, record);

    /// <summary>
    /// Reads <paramref name="name"/> in <paramref name="directory"/>, recording it as <paramref name="recordAs"/> (null: not at
    /// all). A file longer than the limit (<see cref="SysfsFile.MaxListSize"/> for <see cref="SysfsRecording.Kind.ListFile"/>,
    /// else <see cref="SysfsFile.MaxSize"/>) is null with a warning, never cut off.
    /// </summary>
    private string? Read(in DirectoryLocation directory, string name, DiscoveryWarnings warnings, SysfsRecording.Kind? recordAs, SysfsRecording.RecordedDirectory? record)
    {
        int limit = recordAs == SysfsRecording.Kind.ListFile ? SysfsFile.MaxListSize : SysfsFile.MaxSize;
        Span<byte> buffer = limit == SysfsFile.MaxSize ? stackalloc byte[SysfsFile.MaxSize + 1] : stackalloc byte[SysfsFile.MaxListSize + 1];
        int n = directory.ReadFile(_paths, name, buffer, out SysfsFile.Status status, out int errno);
        if (_recording is not null && recordAs is { } kind)
        {
            _recording.Add(record ?? _recording.Directory(directory.Relative), kind, name, SysfsRecording.FileHash(kind, status, n > 0 ? buffer[..n] : []));
        }

        if (status == SysfsFile.Status.Missing)
        {
            return null;
        }

        if (status == SysfsFile.Status.NotRegular)
        {
            warnings.Add(DisplayPath(directory.Relative + "/" + name), null, "not a regular file; ignored");
            return null;
        }

        if (status != SysfsFile.Status.Ok)
        {
            warnings.Add(DisplayPath(directory.Relative + "/" + name), null, $"cannot read: {SysfsFile.ErrnoName(errno)}");
            return null;
        }

        if (n > limit)
        {
            warnings.Add(DisplayPath(directory.Relative + "/" + name), RawText.Decode(buffer[..RawText.MaxQuoted]) + "…", $"longer than {limit} bytes; ignored");
            return null;
        }

        return RawText.Decode(buffer[..n].TrimEnd("\n\0 \t"u8));
    }

    /// <summary>Resolves the link <paramref name="name"/> in <paramref name="directory"/>; see <see cref="ResolveLink(string, DiscoveryWarnings)"/>.</summary>
    internal string? ResolveLink(in DirectoryLocation directory, string name, DiscoveryWarnings warnings, SysfsRecording.RecordedDirectory? record)
    {
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxPath];
        int n = directory.ReadLink(_paths, name, buffer, out int errno);
        _recording?.Add(record ?? _recording.Directory(directory.Relative), SysfsRecording.Kind.Link, name, SysfsRecording.LinkHash(n, buffer));
        if (n < 0)
        {
            warnings.Add(DisplayPath(directory.Relative + "/" + name), null, "cannot read link: " + SysfsFile.ErrnoName(errno));
            return null;
        }

        if (n == 0)
        {
            return null;
        }

        string target = RawText.Decode(buffer[..n]);
        string? inside = Contain(directory.Relative, target);
        if (inside is null)
        {
            warnings.Add(DisplayPath(directory.Relative + "/" + name), target, "link leaves the sysfs root; ignored");
            return null;
        }

        // Where the link really lands: in a fixture root resolved beneath it, so that a link through a directory that
        // leads out (devices/evil -> /tmp/outside/evil) is refused although its own text stays inside.
        if (!(_paths.Contained ? _paths.Exists(inside, out errno) : directory.Exists(_paths, name, out errno)))
        {
            string why = errno switch
            {
                SysfsFile.EXDEV => "link leaves the sysfs root through another link; ignored",
                SysfsFile.ELOOP => "symlink loop; ignored",
                _ when SysfsFile.IsMissing(errno) => "dangling link; ignored",
                _ => "cannot follow link: " + SysfsFile.ErrnoName(errno) + "; ignored",
            };
            warnings.Add(DisplayPath(directory.Relative + "/" + name), target, why);
            return null;
        }

        return inside;
    }

    /// <summary>The last path component, or null.</summary>
    internal static string? LastComponent(string? inside) => inside is null ? null : inside[(inside.LastIndexOf('/') + 1)..];

    /// <summary>
    /// Where a link in <paramref name="directory"/> pointing at <paramref name="target"/> lands, relative to the root,
    /// worked out on the text as <c>realpath</c> would for a tree without further links; null when it leaves the
    /// root or lands on the root itself. An absolute target only makes sense for the live <c>/sys</c> mounted at "/".
    /// </summary>
    internal string? Contain(string directory, string target)
    {
        char[] path = new char[directory.Length + target.Length + 1];
        int length = 0;
        if (target.StartsWith('/'))
        {
            if (MountPoint.Length != 0)
            {
                return null;
            }
        }
        else
        {
            directory.CopyTo(path);
            length = directory.Length;
        }

        foreach (Range r in target.AsSpan().Split('/'))
        {
            ReadOnlySpan<char> part = target.AsSpan()[r];
            if (part.IsEmpty || part is ".")
            {
                continue;
            }

            if (part is "..")
            {
                if (length == 0)
                {
                    return null;
                }

                length = Math.Max(path.AsSpan(0, length).LastIndexOf('/'), 0);
                continue;
            }

            if (length > 0)
            {
                path[length++] = '/';
            }

            part.CopyTo(path.AsSpan(length));
            length += part.Length;
        }

        return length == 0 ? null : new string(path, 0, length);
    }

    private static (string Directory, string Name) Split(string relative)
    {
        int slash = relative.LastIndexOf('/');
        return slash < 0 ? (string.Empty, relative) : (relative[..slash], relative[(slash + 1)..]);
    }
}
