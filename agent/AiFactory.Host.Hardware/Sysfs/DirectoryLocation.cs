using System.Runtime.CompilerServices;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// A directory as the reads in it see it: an open descriptor (names looked up with <c>openat</c>), or, when it could
/// not be opened, the reason. A directory that is missing makes every name in it missing; one that cannot be opened
/// for another reason (no read permission, a loop) falls back to opening each name by its full path, so the outcome
/// of each read is the same as opening that path directly. Discovery and the rescan both read through this, so an
/// unchanged tree gives the same outcomes, and the same hash, both times.
/// </summary>
[SkipLocalsInit]
internal readonly struct DirectoryLocation(int fd, int openErrno, string relative)
{
    /// <summary>The open descriptor, or -1.</summary>
    public int Fd { get; } = fd;

    /// <summary>Why it could not be opened (0 when open).</summary>
    public int OpenErrno { get; } = openErrno;

    /// <summary>The directory relative to the root, without a trailing slash.</summary>
    public string Relative { get; } = relative;

    /// <summary>True when the directory is missing, or (in a contained root) lies outside it: every name in it is missing.</summary>
    public bool IsGone => Fd < 0 && (SysfsFile.IsMissing(OpenErrno) || OpenErrno == SysfsFile.EXDEV);

    /// <summary>One bounded read of <paramref name="name"/>; see <see cref="SysfsFile.ReadAt"/>.</summary>
    public int ReadFile(SysfsPaths paths, string name, Span<byte> buffer, out SysfsFile.Status status, out int errno)
    {
        if (Fd >= 0)
        {
            Span<byte> path = stackalloc byte[SysfsFile.MaxPath];
            return SysfsFile.Encode(name, [], path) < 0 ? TooLong(out status, out errno) : SysfsFile.ReadAt(Fd, path, buffer, out status, out errno);
        }

        if (IsGone)
        {
            status = SysfsFile.Status.Missing;
            errno = OpenErrno;
            return -1;
        }

        return paths.ReadFile(Relative, name, buffer, out status, out errno);
    }

    /// <summary>The target of the link <paramref name="name"/>; see <see cref="SysfsFile.ReadLinkAt"/>.</summary>
    public int ReadLink(SysfsPaths paths, string name, Span<byte> buffer, out int errno)
    {
        if (Fd >= 0)
        {
            Span<byte> path = stackalloc byte[SysfsFile.MaxPath];
            return SysfsFile.Encode(name, [], path) < 0 ? TooLongLink(out errno) : SysfsFile.ReadLinkAt(Fd, path, buffer, out errno);
        }

        if (IsGone)
        {
            errno = OpenErrno;
            return 0;
        }

        return paths.ReadLink(Relative, name, buffer, out errno);
    }

    /// <summary>True when <paramref name="name"/> exists once links are followed (not kept beneath a contained root: see <see cref="SysfsPaths.Exists"/>).</summary>
    public bool Exists(SysfsPaths paths, string name, out int errno)
    {
        if (Fd >= 0)
        {
            Span<byte> path = stackalloc byte[SysfsFile.MaxPath];
            errno = 36; // ENAMETOOLONG
            return SysfsFile.Encode(name, [], path) >= 0 && SysfsFile.ExistsAt(Fd, path, out errno);
        }

        if (IsGone)
        {
            errno = OpenErrno;
            return false;
        }

        return paths.Exists(Relative + "/" + name, out errno);
    }

    private static int TooLong(out SysfsFile.Status status, out int errno)
    {
        status = SysfsFile.Status.Unreadable;
        errno = 36; // ENAMETOOLONG
        return -1;
    }

    private static int TooLongLink(out int errno)
    {
        errno = 36;
        return -1;
    }
}
