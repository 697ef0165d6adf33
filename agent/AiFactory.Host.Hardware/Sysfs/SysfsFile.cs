using System.Runtime.InteropServices;
using System.Text;
using AiFactory.Host.Hardware.Sysfs.Native;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// One bounded read of a small kernel attribute file. sysfs attributes are at most one page and are produced whole
/// by the kernel on the first read, so a single <c>read(2)</c> of <see cref="MaxSize"/> bytes gets all of it. We do
/// not loop or retry on EAGAIN (a retrying API could spin forever on a FIFO or a misbehaving driver attribute);
/// a read that fails is reported, not repeated. The file is opened with O_NONBLOCK so that a FIFO or a character
/// device in a (fixture) tree cannot hang discovery.
/// </summary>
internal static unsafe class SysfsFile
{
    /// <summary>The largest attribute read: one page.</summary>
    public const int MaxSize = 4096;

    /// <summary>Outcome of a read.</summary>
    public enum Status
    {
        /// <summary>The file was read (possibly empty).</summary>
        Ok,

        /// <summary>The file does not exist (ENOENT, ENOTDIR, or a dangling link).</summary>
        Missing,

        /// <summary>It exists but could not be read (EACCES, ELOOP, EISDIR, EAGAIN, EIO, ...).</summary>
        Unreadable,
    }

    /// <summary>
    /// Reads at most <see cref="MaxSize"/> bytes of <paramref name="path"/> into <paramref name="buffer"/> with one
    /// read. Returns the number of bytes, or -1 with <paramref name="status"/> and <paramref name="errno"/> saying why.
    /// </summary>
    public static int Read(ReadOnlySpan<byte> nullTerminatedPath, Span<byte> buffer, out Status status, out int errno)
    {
        errno = 0;
        int fd;
        fixed (byte* p = nullTerminatedPath)
        {
            fd = SysfsNative.Open(p, SysfsNative.O_RDONLY | SysfsNative.O_NONBLOCK | SysfsNative.O_CLOEXEC | SysfsNative.O_NOCTTY);
        }

        if (fd < 0)
        {
            errno = Marshal.GetLastSystemError();
            status = errno is 2 or 20 ? Status.Missing : Status.Unreadable; // ENOENT, ENOTDIR
            return -1;
        }

        nint n;
        fixed (byte* b = buffer)
        {
            n = SysfsNative.Read(fd, b, buffer.Length);
        }

        if (n < 0)
        {
            errno = Marshal.GetLastSystemError();
        }

        SysfsNative.Close(fd);
        status = n < 0 ? Status.Unreadable : Status.Ok;
        return (int)n;
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
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        40 => "ELOOP",
        95 => "EOPNOTSUPP",
        _ => "errno " + errno.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
