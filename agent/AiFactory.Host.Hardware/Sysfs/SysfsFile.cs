using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// One bounded read of a small kernel attribute file. sysfs attributes are at most one page and are produced whole
/// by the kernel on the first read, so a single <c>read(2)</c> gets all of it; the caller's buffer is one byte longer
/// than the largest value it accepts, so that a value that fills it is known to be too long (a damaged tree, a
/// 100 MB file) instead of being cut off silently. CPU lists are the exception: since Linux 5.17 they are binary
/// attributes that may exceed a page and come one page per <c>read(2)</c>, so a buffer longer than a page is filled by
/// further reads while each returns a whole page (<see cref="MaxListSize"/> bounds them). We never retry on EAGAIN (a
/// retrying API could spin forever on a FIFO or a misbehaving driver attribute); a read that fails is reported, not
/// repeated. The file is opened with O_NONBLOCK so that a FIFO or a character
/// device in a (fixture) tree cannot hang discovery. Paths are relative to an open directory (<c>openat</c>), so a
/// device's attributes cost one short path lookup each instead of a walk from <c>/</c>.
/// </summary>
[SkipLocalsInit]
internal static unsafe class SysfsFile
{
    /// <summary>The largest attribute accepted: one page. Reads ask for one byte more to tell a longer file.</summary>
    public const int MaxSize = 4096;

    /// <summary>
    /// The largest CPU list accepted (<c>cpulist</c>, <c>local_cpulist</c>, <c>*_cpus_list</c>, <c>online</c>): since
    /// Linux 5.17 these may exceed a page (a list of 8192 sparse CPU ids needs about 40 KiB).
    /// </summary>
    public const int MaxListSize = 64 * 1024;

    /// <summary>What one <c>read(2)</c> of a binary sysfs attribute returns at most: a page.</summary>
    private const int PageSize = 4096;

    /// <summary>The longest path handled (PATH_MAX, with its NUL).</summary>
    public const int MaxPath = 4096;

    /// <summary>A path that would leave a contained root (see <see cref="SysfsPaths"/>).</summary>
    public const int EXDEV = 18;

    /// <summary>Too many levels of symbolic links: a loop, or a link where O_NOFOLLOW forbids one.</summary>
    public const int ELOOP = 40;

    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int EINVAL = 22;
    private const int EAGAIN = 11;

    // O_NOFOLLOW: a kernel attribute is never a symbolic link, so one in its place (a doctored or broken tree) is
    // refused with ELOOP instead of being read wherever it points, possibly outside the root.
    internal static readonly int FileFlags = Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC | Libc.O_NOCTTY | Libc.O_NOFOLLOW;
    internal static readonly int DirectoryFlags = Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NONBLOCK | Libc.O_CLOEXEC;

    /// <summary>Outcome of a read.</summary>
    public enum Status
    {
        /// <summary>The file was read (possibly empty).</summary>
        Ok,

        /// <summary>The file does not exist (ENOENT, ENOTDIR, or a dangling link).</summary>
        Missing,

        /// <summary>It exists but could not be read (EACCES, ELOOP, EISDIR, EAGAIN, EIO, ...).</summary>
        Unreadable,

        /// <summary>
        /// It is not a regular file (a FIFO, socket or device put in a doctored tree): what it gave is not its value.
        /// Told only where the read came back empty or failed; a kernel attribute is a regular file.
        /// </summary>
        NotRegular,
    }

    /// <summary>True for the errnos that mean "no such file" rather than "cannot read it".</summary>
    public static bool IsMissing(int errno) => errno is ENOENT or ENOTDIR;

    /// <summary>
    /// Reads at most <paramref name="buffer"/>'s length of <paramref name="nullTerminatedPath"/> into it: one read, or
    /// for a buffer longer than a page as many as it takes (see the class). Returns the number of bytes, or -1 with <paramref name="status"/> and <paramref name="errno"/> saying why.
    /// </summary>
    public static int Read(ReadOnlySpan<byte> nullTerminatedPath, Span<byte> buffer, out Status status, out int errno) =>
        ReadAt(Libc.AT_FDCWD, nullTerminatedPath, buffer, out status, out errno);

    /// <summary>As <see cref="Read"/>, with the path relative to the open directory <paramref name="dirFd"/>.</summary>
    public static int ReadAt(int dirFd, ReadOnlySpan<byte> nullTerminatedPath, Span<byte> buffer, out Status status, out int errno)
    {
        errno = 0;
        int fd;
        fixed (byte* p = nullTerminatedPath)
        {
            fd = Libc.OpenAt(dirFd, p, FileFlags);
        }

        if (fd < 0)
        {
            errno = Marshal.GetLastSystemError();
        }

        return ReadOpened(fd, errno, buffer, out status, out errno);
    }

    /// <summary>
    /// As <see cref="ReadAt"/> for a file already opened with <see cref="FileFlags"/>: reads and closes it. A
    /// negative <paramref name="fd"/> reports <paramref name="openErrno"/>. The result equals the buffer's length when
    /// the file is at least that long.
    /// </summary>
    public static int ReadOpened(int fd, int openErrno, Span<byte> buffer, out Status status, out int errno)
    {
        errno = 0;
        if (fd < 0)
        {
            errno = openErrno;
            status = IsMissing(errno) ? Status.Missing : Status.Unreadable;
            return -1;
        }

        nint n;
        int total = 0;
        fixed (byte* b = buffer)
        {
            n = Libc.Read(fd, b, buffer.Length);
            if (n > 0)
            {
                total = (int)n;
            }

            // Only a buffer longer than a page reads on, and only while each read returns a whole page (a binary
            // attribute's chunk) and there is room: a short read is the end of the file. Bounded by the buffer.
            while (n >= PageSize && buffer.Length > MaxSize + 1 && total < buffer.Length)
            {
                n = Libc.Read(fd, b + total, buffer.Length - total);
                if (n > 0)
                {
                    total += (int)n;
                }
            }
        }

        if (n < 0)
        {
            errno = Marshal.GetLastSystemError();
        }

        // A FIFO without a writer reads as empty at once (O_NONBLOCK), one with a writer but no data fails with
        // EAGAIN: either would pass for the value "" or an unreadable attribute. One fstat, only on those two paths,
        // tells (other errors, EISDIR for a directory in the attribute's place, say what they are themselves).
        if (((n == 0 && total == 0) || (n < 0 && errno == EAGAIN)) && Files.FileIdentity.OfDescriptor(fd) is { IsRegularFile: false })
        {
            _ = Libc.Close(fd);
            status = Status.NotRegular;
            return -1;
        }

        _ = Libc.Close(fd);
        status = n < 0 ? Status.Unreadable : Status.Ok;
        return n < 0 ? -1 : total;
    }

    /// <summary>
    /// The target of the link <paramref name="nullTerminatedPath"/> (relative to <paramref name="dirFd"/>) into
    /// <paramref name="buffer"/>: its length, 0 when it is not a link or does not exist, -1 with <paramref name="errno"/>.
    /// </summary>
    public static int ReadLinkAt(int dirFd, ReadOnlySpan<byte> nullTerminatedPath, Span<byte> buffer, out int errno)
    {
        errno = 0;
        nint n;
        fixed (byte* p = nullTerminatedPath)
        fixed (byte* b = buffer)
        {
            n = Libc.ReadLinkAt(dirFd, p, b, buffer.Length);
        }

        if (n >= 0)
        {
            return (int)n;
        }

        errno = Marshal.GetLastSystemError();
        return errno is EINVAL or ENOENT or ENOTDIR ? 0 : -1;
    }

    /// <summary>True when the path (relative to <paramref name="dirFd"/>) exists once links are followed; else the errno.</summary>
    public static bool ExistsAt(int dirFd, ReadOnlySpan<byte> nullTerminatedPath, out int errno)
    {
        errno = 0;
        fixed (byte* p = nullTerminatedPath)
        {
            if (Libc.FAccessAt(dirFd, p, Libc.F_OK, 0) == 0)
            {
                return true;
            }
        }

        errno = Marshal.GetLastSystemError();
        return false;
    }

    /// <summary>Opens a directory for <c>openat</c> and <c>getdents64</c>; -1 with <paramref name="errno"/> when it cannot.</summary>
    public static int OpenDirectory(int dirFd, ReadOnlySpan<byte> nullTerminatedPath, out int errno)
    {
        errno = 0;
        int fd;
        fixed (byte* p = nullTerminatedPath)
        {
            fd = Libc.OpenAt(dirFd, p, DirectoryFlags);
        }

        if (fd < 0)
        {
            errno = Marshal.GetLastSystemError();
        }

        return fd;
    }

    /// <summary>Closes a descriptor from <see cref="OpenDirectory"/>.</summary>
    public static void Close(int fd) => _ = Libc.Close(fd);

    /// <summary>
    /// Writes <paramref name="a"/> then <paramref name="b"/> as UTF-8 with a terminating NUL into <paramref name="destination"/>;
    /// the length with the NUL, or -1 when it does not fit.
    /// </summary>
    public static int Encode(ReadOnlySpan<char> a, ReadOnlySpan<char> b, Span<byte> destination)
    {
        if (!Encoding.UTF8.TryGetBytes(a, destination, out int n) ||
            !Encoding.UTF8.TryGetBytes(b, destination[n..], out int m) || n + m >= destination.Length)
        {
            return -1;
        }

        destination[n + m] = 0;
        return n + m + 1;
    }

    /// <summary>Encodes a path as null-terminated UTF-8 for <see cref="Read"/>.</summary>
    public static byte[] NativePath(string path)
    {
        int count = Encoding.UTF8.GetByteCount(path);
        byte[] bytes = new byte[count + 1];
        Encoding.UTF8.GetBytes(path, bytes);
        return bytes;
    }

    /// <summary>A short text for an errno, without loading anything.</summary>
    public static string ErrnoName(int errno) => errno switch
    {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        6 => "ENXIO",
        11 => "EAGAIN",
        13 => "EACCES",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        36 => "ENAMETOOLONG",
        40 => "ELOOP",
        95 => "EOPNOTSUPP",
        _ => "errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
