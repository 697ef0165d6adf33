using System.Text;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Sysfs;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>
/// Where procfs is mounted: <c>/proc</c> live, <c>&lt;fixture&gt;/proc</c> in tests. Every procfs access goes
/// through this object; no other code holds "/proc".
/// </summary>
public sealed class ProcfsRoot
{
    private readonly string _prefix;

    /// <summary>Opens the tree at <paramref name="mountPoint"/>.</summary>
    public ProcfsRoot(string mountPoint)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        MountPoint = Path.GetFullPath(mountPoint).TrimEnd('/');
        _prefix = MountPoint + "/";
    }

    /// <summary>The live machine's procfs.</summary>
    public static ProcfsRoot Live { get; } = new("/proc");

    /// <summary>The absolute mount point.</summary>
    public string MountPoint { get; }

    /// <summary>True for the live machine's <c>/proc</c>, not a fixture tree: what must hold there (a default route) may be missing from a fixture.</summary>
    public bool IsLive => MountPoint == Live.MountPoint;

    /// <summary>The path shown in warnings (<c>/proc/meminfo</c>), whatever the root.</summary>
    public static string DisplayPath(string relative) => "/proc/" + relative;

    /// <summary>The NUL-terminated path of <paramref name="relative"/>, for reading it again without allocating.</summary>
    internal byte[] NativePath(string relative) => SysfsFile.NativePath(_prefix + relative);

    /// <summary>
    /// Reads a procfs text file that may pass one page (<c>cpuinfo</c>, <c>self/mounts</c>) without blocking and in at
    /// most <paramref name="maxBytes"/> (<see cref="ProcfsTextFile"/>): null when missing; null and a warning ending in
    /// <paramref name="consequence"/> ("ignored", "not captured") when it is not a regular file, unreadable or too large.
    /// </summary>
    public string? ReadTextFile(string relative, int maxBytes, DiscoveryWarnings warnings, string consequence)
    {
        byte[]? bytes = ProcfsTextFile.ReadWhole(NativePath(relative), maxBytes, out ProcfsFileStatus status, out int errno);
        if (bytes is null && status != ProcfsFileStatus.Missing)
        {
            warnings.Add(DisplayPath(relative), null, ProcfsTextFile.Describe(status, errno, maxBytes) + "; " + consequence);
        }

        return bytes is null ? null : RawText.Decode(bytes);
    }

    /// <summary>
    /// Reads a small procfs file (<c>cmdline</c>, <c>meminfo</c>) with one bounded read of 4 KiB, like sysfs
    /// attributes and for the same reason; null when missing, null and a warning when unreadable.
    /// </summary>
    public string? ReadSmallFile(string relative, DiscoveryWarnings warnings)
    {
        byte[] path = NativePath(relative);
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize + 1];
        int n = SysfsFile.Read(path, buffer, out SysfsFile.Status status, out int errno);
        if (status == SysfsFile.Status.Missing)
        {
            return null;
        }

        if (status == SysfsFile.Status.NotRegular)
        {
            warnings.Add(DisplayPath(relative), null, "not a regular file; ignored");
            return null;
        }

        if (status != SysfsFile.Status.Ok)
        {
            warnings.Add(DisplayPath(relative), null, $"cannot read: {SysfsFile.ErrnoName(errno)}");
            return null;
        }

        if (n > SysfsFile.MaxSize)
        {
            warnings.Add(DisplayPath(relative), RawText.Decode(buffer[..RawText.MaxQuoted]) + "…", $"longer than {SysfsFile.MaxSize} bytes; ignored");
            return null;
        }

        return RawText.Decode(buffer[..n]);
    }
}
