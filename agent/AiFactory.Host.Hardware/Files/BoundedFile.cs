using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// Reads a small file a setting names (the agent's config, <c>tls.client-ca</c>, <c>tls.client-crl</c>, a profile's
/// <c>mig.partedConfig</c> through <see cref="ConfinedFile"/>; the lease ledger's checkpoint, journal and marker, which
/// refuse a symbolic link) in one bounded pass: only a regular file (a FIFO or a
/// device is opened <c>O_NONBLOCK</c> and refused after <c>fstat</c>, never waited on or read forever), at most
/// <c>maxBytes</c> (a file larger by its length is refused unread; one that grows past the limit while read is refused
/// too), as strict UTF-8 when text is asked for (a leading byte order mark skipped; the first bad byte named by its
/// offset). The buffer is sized from the file's length and rented from the shared pool, so reading a 2 KiB file
/// does not allocate a mebibyte. Errors are <see cref="BoundedFileException"/>s naming the path and the problem.
/// </summary>
public static unsafe class BoundedFile
{
    /// <summary>Where the buffer starts for a file whose length says nothing (procfs reports 0).</summary>
    private const int UnknownLengthBuffer = 4096;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The text of the file at <paramref name="path"/> (symbolic links followed); null when nothing is there.</summary>
    /// <exception cref="BoundedFileException">The file is not a regular file, is too large, cannot be read, or is not UTF-8.</exception>
    public static string? ReadText(string path, int maxBytes) => WithOpened(path, maxBytes, followLinks: true, static (fd, p, max) => ReadText(fd, p, max));

    /// <summary>
    /// The bytes of the file at <paramref name="path"/>; null when nothing is there. With <paramref name="followLinks"/>
    /// false a symbolic link as the last component is refused (<c>O_NOFOLLOW</c>), not read through.
    /// </summary>
    /// <exception cref="BoundedFileException">The file is not a regular file, is too large, or cannot be read.</exception>
    public static byte[]? ReadBytes(string path, int maxBytes, bool followLinks = true) =>
        WithOpened(path, maxBytes, followLinks, static (fd, p, max) => Read(fd, p, max, static (bytes, _) => bytes.ToArray()));

    /// <summary>The text of the file open as <paramref name="fd"/> (not closed here); <paramref name="path"/> names it in errors.</summary>
    internal static string ReadText(int fd, string path, int maxBytes) => Read(fd, path, maxBytes, Decode);

    private delegate T Reader<T>(int fd, string path, int maxBytes);

    private delegate T Converter<T>(ReadOnlySpan<byte> bytes, string path);

    private static T? WithOpened<T>(string path, int maxBytes, bool followLinks, Reader<T> read)
        where T : class
    {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; fstat refuses it right after.
        int flags = Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC | Libc.O_NOCTTY | (followLinks ? 0 : Libc.O_NOFOLLOW);
        int fd = Libc.Open(path, flags);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                Libc.ENOENT or Libc.ENOTDIR => null,
                Libc.ELOOP when !followLinks => throw new BoundedFileException(path, "is not a regular file (a symbolic link, not followed)"),
                _ => throw new BoundedFileException(path, "cannot be opened: " + Marshal.GetPInvokeErrorMessage(errno)),
            };
        }

        try
        {
            return read(fd, path, maxBytes);
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    private static T Read<T>(int fd, string path, int maxBytes, Converter<T> convert)
    {
        if (Libc.Statx(fd, string.Empty, Libc.AT_EMPTY_PATH, Libc.STATX_TYPE | Libc.STATX_SIZE, out Libc.StatxBuffer stat) != 0)
        {
            throw new BoundedFileException(path, "cannot be read: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
        }

        var type = new FileIdentity(stat.Mode, 0, 0);
        if (!type.IsRegularFile)
        {
            throw new BoundedFileException(path, type.IsDirectory ? "is a directory" : "is not a regular file");
        }

        if (stat.Size > (ulong)maxBytes)
        {
            throw TooLarge(path, maxBytes);
        }

        // One byte more than the length: a read that fills it means the file grew, and the next read finds out how far.
        int limit = maxBytes + 1;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(stat.Size == 0 ? Math.Min(UnknownLengthBuffer, limit) : (int)stat.Size + 1);
        try
        {
            int length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length >= limit)
                    {
                        throw TooLarge(path, maxBytes);
                    }

                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(2L * buffer.Length, limit));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                nint n;
                fixed (byte* b = buffer)
                {
                    n = Libc.Read(fd, b + length, Math.Min(buffer.Length, limit) - length);
                }

                if (n < 0)
                {
                    int error = Marshal.GetLastSystemError();
                    if (error == Libc.EINTR)
                    {
                        continue;
                    }

                    throw new BoundedFileException(path, "cannot be read: " + Marshal.GetPInvokeErrorMessage(error));
                }

                if (n == 0)
                {
                    break;
                }

                length += (int)n;
                if (length >= limit)
                {
                    throw TooLarge(path, maxBytes);
                }
            }

            return convert(buffer.AsSpan(0, length), path);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Strict UTF-8, a leading byte order mark skipped; the first byte that is not UTF-8 is named by its offset.</summary>
    internal static string Decode(ReadOnlySpan<byte> bytes, string path)
    {
        int offset = bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        try
        {
            return StrictUtf8.GetString(bytes[offset..]);
        }
        catch (DecoderFallbackException ex)
        {
            string at = ex.Index >= 0 ? $" at byte offset {offset + ex.Index}" : string.Empty;
            throw new BoundedFileException(path, "is not valid UTF-8" + at, notUtf8: true);
        }
    }

    private static BoundedFileException TooLarge(string path, int maxBytes) =>
        new(path, "is larger than " + (maxBytes % (1024 * 1024) == 0 ? $"{maxBytes / (1024 * 1024)} MiB" : $"{maxBytes} bytes"));
}
