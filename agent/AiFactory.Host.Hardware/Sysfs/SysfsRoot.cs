using System.Text;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Sysfs.Native;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Where sysfs is mounted: <c>/sys</c> on a live machine, <c>&lt;fixture&gt;/sys</c> in tests and demos. Every sysfs
/// access goes through this object with paths relative to it; no other code holds "/sys". Links are resolved by
/// hand and refused when they leave the root, so a hostile or broken tree cannot send discovery elsewhere.
/// </summary>
public sealed class SysfsRoot
{
    private readonly string _prefix;
    private List<byte[]>? _recordedFiles;
    private List<byte[]>? _recordedDirs;
    private List<byte[]>? _recordedLinks;

    /// <summary>Opens the tree at <paramref name="mountPoint"/> (made absolute; the directory need not exist).</summary>
    public SysfsRoot(string mountPoint)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        MountPoint = Path.GetFullPath(mountPoint).TrimEnd('/');
        _prefix = MountPoint + "/";
    }

    /// <summary>The live machine's sysfs.</summary>
    public static SysfsRoot Live { get; } = new("/sys");

    /// <summary>The absolute mount point, without a trailing slash ("" for "/").</summary>
    public string MountPoint { get; }

    /// <summary>The absolute path of <paramref name="relative"/> (e.g. <c>bus/pci/devices</c>).</summary>
    public string PathOf(string relative) => _prefix + relative;

    /// <summary>The path shown in warnings: the kernel path as on a live machine, whatever the root.</summary>
    public static string DisplayPath(string relative) => "/sys/" + relative;

    /// <summary>Starts recording which files and directories are read (for the cheap change check of a rescan).</summary>
    internal void StartRecording()
    {
        _recordedFiles = [];
        _recordedDirs = [];
        _recordedLinks = [];
    }

    /// <summary>Stops recording and returns what was read.</summary>
    internal (List<byte[]> Files, List<byte[]> Dirs, List<byte[]> Links) StopRecording()
    {
        var result = (_recordedFiles ?? [], _recordedDirs ?? [], _recordedLinks ?? []);
        _recordedFiles = null;
        _recordedDirs = null;
        _recordedLinks = null;
        return result;
    }

    /// <summary>
    /// Reads a small attribute with one bounded read and trims it. A missing file is null (attributes are optional
    /// across kernels and devices); an unreadable one is null plus a warning naming the file and the errno.
    /// </summary>
    /// <param name="relative">The attribute, relative to the root.</param>
    /// <param name="warnings">Where an unreadable file is reported.</param>
    /// <param name="changesConstantly">True for values such as MemFree that change all the time and must not count as an inventory change.</param>
    public string? ReadAttribute(string relative, DiscoveryWarnings warnings, bool changesConstantly = false)
    {
        byte[] path = SysfsFile.NativePath(PathOf(relative));
        if (!changesConstantly)
        {
            _recordedFiles?.Add(path);
        }

        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize];
        int n = SysfsFile.Read(path, buffer, out SysfsFile.Status status, out int errno);
        if (status == SysfsFile.Status.Missing)
        {
            return null;
        }

        if (status != SysfsFile.Status.Ok)
        {
            warnings.Add(DisplayPath(relative), null, $"cannot read: {SysfsFile.ErrnoName(errno)}");
            return null;
        }

        return Encoding.UTF8.GetString(buffer[..n].TrimEnd("\n\0 \t"u8));
    }

    /// <summary>
    /// Resolves the symlink at <paramref name="relative"/> to a path relative to the root, or null when it is not a
    /// link, dangles, or leaves the root (the last two with a warning).
    /// </summary>
    public string? ResolveLink(string relative, DiscoveryWarnings warnings)
    {
        string full = PathOf(relative);
        _recordedLinks?.Add(SysfsFile.NativePath(full));
        string? target;
        try
        {
            target = new FileInfo(full).LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            warnings.Add(DisplayPath(relative), null, "cannot read link: " + ex.Message);
            return null;
        }

        if (target is null)
        {
            return null;
        }

        string resolved = target.StartsWith('/')
            ? (MountPoint.Length == 0 ? target : "/\0") // an absolute target only makes sense for the live /sys
            : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(full)!, target));
        if (!resolved.StartsWith(_prefix, StringComparison.Ordinal))
        {
            warnings.Add(DisplayPath(relative), target, "link leaves the sysfs root; ignored");
            return null;
        }

        string inside = resolved[_prefix.Length..];
        if (!Path.Exists(resolved))
        {
            warnings.Add(DisplayPath(relative), target, "dangling link; ignored");
            return null;
        }

        return inside;
    }

    /// <summary>The last component of the link's target (a driver name, a group number), or null when not a link.</summary>
    public string? ReadLinkName(string relative, DiscoveryWarnings warnings)
    {
        string? inside = ResolveLink(relative, warnings);
        return inside is null ? null : inside[(inside.LastIndexOf('/') + 1)..];
    }

    /// <summary>
    /// The names in a directory, sorted ordinally; empty when it does not exist. Names with a '/' or that are
    /// "." or ".." never come back (readdir cannot produce them, but a name is a path component here).
    /// </summary>
    public IReadOnlyList<string> List(string relative, DiscoveryWarnings warnings)
    {
        string full = PathOf(relative);
        _recordedDirs?.Add(SysfsFile.NativePath(full));
        string[] names;
        try
        {
            names = Directory.Exists(full) ? Directory.GetFileSystemEntries(full) : [];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            warnings.Add(DisplayPath(relative), null, "cannot list: " + ex.Message);
            return [];
        }

        var result = new List<string>(names.Length);
        foreach (string n in names)
        {
            string name = Path.GetFileName(n);
            if (name is not ("." or ".." or ""))
            {
                result.Add(name);
            }
        }

        result.Sort(StringComparer.Ordinal);
        return result;
    }

    /// <summary>True when the entry exists (a dangling link does not).</summary>
    public bool Exists(string relative) => Path.Exists(PathOf(relative));

    /// <summary>
    /// A hash over the bytes of the files and the names in the directories recorded by the last full read, for
    /// deciding cheaply whether anything changed. Allocates nothing on the managed heap.
    /// </summary>
    internal static unsafe ulong Fingerprint(List<byte[]> files, List<byte[]> dirs, List<byte[]> links)
    {
        const ulong Offset = 14695981039346656037UL;
        const ulong Prime = 1099511628211UL;
        ulong hash = Offset;
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize];
        foreach (byte[] path in files)
        {
            int n = SysfsFile.Read(path, buffer, out SysfsFile.Status status, out _);
            hash = (hash ^ (ulong)status) * Prime;
            for (int i = 0; i < n; i++)
            {
                hash = (hash ^ buffer[i]) * Prime;
            }

            hash = (hash ^ 0xff) * Prime;
        }

        foreach (byte[] path in links)
        {
            nint n;
            fixed (byte* p = path)
            fixed (byte* b = buffer)
            {
                n = SysfsNative.ReadLink(p, b, buffer.Length);
            }

            for (int i = 0; i < n; i++)
            {
                hash = (hash ^ buffer[i]) * Prime;
            }

            hash = (hash ^ 0xfd) * Prime;
        }

        foreach (byte[] path in dirs)
        {
            nint dir;
            fixed (byte* p = path)
            {
                dir = SysfsNative.OpenDir(p);
            }

            if (dir == 0)
            {
                hash = (hash ^ 0xfe) * Prime;
                continue;
            }

            // readdir order is stable for an unchanged directory; XOR-folding each name's hash makes it order-free anyway.
            ulong names = 0;
            nint entry;
            while ((entry = SysfsNative.ReadDir(dir)) != 0)
            {
                byte* name = (byte*)entry + SysfsNative.DirentNameOffset;
                ulong h = Offset;
                for (int i = 0; i < 256 && name[i] != 0; i++)
                {
                    h = (h ^ name[i]) * Prime;
                }

                names ^= h;
            }

            SysfsNative.CloseDir(dir);
            hash = (hash ^ names) * Prime;
        }

        return hash;
    }
}
