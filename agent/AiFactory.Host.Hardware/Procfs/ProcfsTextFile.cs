using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AiFactory.Host.Hardware.Files;
using AiFactory.Host.Hardware.Sysfs;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>
/// Reads a procfs text file that may pass one page (<c>cpuinfo</c>, <c>self/mounts</c>, <c>net/route</c>) without ever
/// blocking and within a bound: opened O_NONBLOCK|O_NOFOLLOW (a FIFO opens at once instead of waiting for a writer),
/// refused unless <c>fstat</c> says it is a regular file (procfs files are, with size 0; a FIFO, socket or device put
/// in a doctored tree is not), and read to its end in at most a given number of bytes. A file that passes the bound is
/// refused whole rather than half read.
/// </summary>
[SkipLocalsInit]
internal static unsafe class ProcfsTextFile
{
    /// <summary>The longest line <see cref="ScanLines"/> hands on; a longer one is skipped whole.</summary>
    public const int MaxLine = 8192;

    private const uint TypeMask = 0xF000; // S_IFMT
    private const uint RegularType = 0x8000; // S_IFREG
    private const int EFBIG = 27;

    /// <summary>
    /// Reads the whole file into a new array of at most <paramref name="maxBytes"/> bytes; null with
    /// <paramref name="status"/> (and <paramref name="errno"/>) saying why not.
    /// </summary>
    public static byte[]? ReadWhole(ReadOnlySpan<byte> nullTerminatedPath, int maxBytes, out ProcfsFileStatus status, out int errno)
    {
        int fd = OpenRegular(nullTerminatedPath, out status, out errno);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            byte[] buffer = new byte[Math.Min(maxBytes + 1, 16 << 10)];
            int total = 0;
            while (true)
            {
                if (total == buffer.Length)
                {
                    if (buffer.Length > maxBytes)
                    {
                        (status, errno) = (ProcfsFileStatus.TooLarge, EFBIG);
                        return null;
                    }

                    Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, maxBytes + 1L));
                }

                nint n;
                fixed (byte* b = &buffer[total])
                {
                    n = Libc.Read(fd, b, buffer.Length - total);
                }

                if (n < 0)
                {
                    (status, errno) = (ProcfsFileStatus.Unreadable, Marshal.GetLastSystemError());
                    return null;
                }

                if (n == 0)
                {
                    return buffer[..total];
                }

                total += (int)n;
            }
        }
        finally
        {
            SysfsFile.Close(fd);
        }
    }

    /// <summary>
    /// Reads the file through one stack buffer and hands each line (without its '\n') to <paramref name="sink"/>, in
    /// order, allocating nothing. Lines longer than <see cref="MaxLine"/> are skipped. When the file cannot be read or
    /// passes <paramref name="maxBytes"/>, the returned status says so and the sink has been told <see cref="IProcfsLineSink.Reset"/>:
    /// it holds nothing of the file.
    /// </summary>
    public static ProcfsFileStatus ScanLines<TSink>(ReadOnlySpan<byte> nullTerminatedPath, int maxBytes, TSink sink, out int errno)
        where TSink : IProcfsLineSink
    {
        sink.Reset();
        int fd = OpenRegular(nullTerminatedPath, out ProcfsFileStatus status, out errno);
        if (fd < 0)
        {
            return status;
        }

        try
        {
            Span<byte> buffer = stackalloc byte[MaxLine];
            int held = 0;
            long total = 0;
            bool skipping = false;
            while (true)
            {
                nint n;
                fixed (byte* b = &buffer[held])
                {
                    n = Libc.Read(fd, b, buffer.Length - held);
                }

                if (n < 0)
                {
                    errno = Marshal.GetLastSystemError();
                    sink.Reset();
                    return ProcfsFileStatus.Unreadable;
                }

                total += n;
                if (total > maxBytes)
                {
                    errno = EFBIG;
                    sink.Reset();
                    return ProcfsFileStatus.TooLarge;
                }

                if (n == 0)
                {
                    if (held > 0 && !skipping)
                    {
                        sink.Line(buffer[..held]);
                    }

                    return ProcfsFileStatus.Ok;
                }

                held += (int)n;
                int start = 0;
                int newline;
                while ((newline = buffer[start..held].IndexOf((byte)'\n')) >= 0)
                {
                    if (!skipping)
                    {
                        sink.Line(buffer.Slice(start, newline));
                    }

                    skipping = false;
                    start += newline + 1;
                }

                if (start == 0 && held == buffer.Length)
                {
                    // A line longer than the buffer: drop what is held and the rest of that line.
                    skipping = true;
                    held = 0;
                    continue;
                }

                buffer[start..held].CopyTo(buffer);
                held -= start;
            }
        }
        finally
        {
            SysfsFile.Close(fd);
        }
    }

    /// <summary>What a warning says about <paramref name="status"/>.</summary>
    public static string Describe(ProcfsFileStatus status, int errno, int maxBytes) => status switch
    {
        ProcfsFileStatus.NotRegular => "not a regular file",
        ProcfsFileStatus.TooLarge => $"larger than {maxBytes} bytes",
        _ => "cannot read: " + SysfsFile.ErrnoName(errno),
    };

    private static int OpenRegular(ReadOnlySpan<byte> nullTerminatedPath, out ProcfsFileStatus status, out int errno)
    {
        errno = 0;
        int fd;
        fixed (byte* p = nullTerminatedPath)
        {
            fd = Libc.OpenAt(Libc.AT_FDCWD, p, SysfsFile.FileFlags);
        }

        if (fd < 0)
        {
            errno = Marshal.GetLastSystemError();
            status = SysfsFile.IsMissing(errno) ? ProcfsFileStatus.Missing : ProcfsFileStatus.Unreadable;
            return -1;
        }

        if (FileIdentity.OfDescriptor(fd) is not { } identity || (identity.Mode & TypeMask) != RegularType)
        {
            SysfsFile.Close(fd);
            status = ProcfsFileStatus.NotRegular;
            return -1;
        }

        status = ProcfsFileStatus.Ok;
        return fd;
    }
}
