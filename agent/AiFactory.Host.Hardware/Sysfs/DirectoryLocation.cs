using System.Runtime.CompilerServices;
using static AiFactory.Host.Hardware.Interop.Interop;

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

    /// <summary>One bounded read of <paramref name="name"/>; see <see cref="SysfsFile.ReadAt"/>.</summary>
    public int ReadFile(string prefix, string name, Span<byte> buffer, out SysfsFile.Status status, out int errno)
    {
        Span<byte> path = stackalloc byte[SysfsFile.MaxPath];
        if (Fd >= 0)
        {
            return SysfsFile.Encode(name, [], path) < 0 ? TooLong(out status, out errno) : SysfsFile.ReadAt(Fd, path, buffer, out status, out errno);
        }

        if (SysfsFile.IsMissing(OpenErrno))
        {
            status = SysfsFile.Status.Missing;
            errno = OpenErrno;
            return -1;
        }

        return EncodeFull(prefix, name, path) < 0 ? TooLong(out status, out errno) : SysfsFile.ReadAt(Libc.AT_FDCWD, path, buffer, out status, out errno);
    }

    /// <summary>The target of the link <paramref name="name"/>; see <see cref="SysfsFile.ReadLinkAt"/>.</summary>
    public int ReadLink(string prefix, string name, Span<byte> buffer, out int errno)
    {
        Span<byte> path = stackalloc byte[SysfsFile.MaxPath];
        if (Fd >= 0)
        {
            return SysfsFile.Encode(name, [], path) < 0 ? TooLongLink(out errno) : SysfsFile.ReadLinkAt(Fd, path, buffer, out errno);
        }

        if (SysfsFile.IsMissing(OpenErrno))
        {
            errno = OpenErrno;
            return 0;
        }

        return EncodeFull(prefix, name, path) < 0 ? TooLongLink(out errno) : SysfsFile.ReadLinkAt(Libc.AT_FDCWD, path, buffer, out errno);
    }

    /// <summary>True when <paramref name="name"/> exists once links are followed.</summary>
    public bool Exists(string prefix, string name)
    {
        Span<byte> path = stackalloc byte[SysfsFile.MaxPath];
        if (Fd >= 0)
        {
            return SysfsFile.Encode(name, [], path) >= 0 && SysfsFile.ExistsAt(Fd, path);
        }

        return !SysfsFile.IsMissing(OpenErrno) && EncodeFull(prefix, name, path) >= 0 && SysfsFile.ExistsAt(Libc.AT_FDCWD, path);
    }

    private int EncodeFull(string prefix, string name, Span<byte> path)
    {
        int n = SysfsFile.Encode(prefix, Relative, path);
        if (n < 0)
        {
            return -1;
        }

        path[n - 1] = (byte)'/';
        int m = SysfsFile.Encode(name, [], path[n..]);
        return m < 0 ? -1 : n + m;
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
