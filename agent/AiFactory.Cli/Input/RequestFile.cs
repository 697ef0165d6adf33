using System.Runtime.InteropServices;
using System.Text;
using AiFactory.Grpc.Protocol;
using Microsoft.Win32.SafeHandles;
using static AiFactory.Cli.Interop.Interop;

namespace AiFactory.Cli.Input;

/// <summary>
/// Reads a file whose text goes to the agent in a request (<c>profile -f</c>, <c>lease attach --domain-xml</c>,
/// <c>mig --config</c>) or that a TLS option names (<c>--ca</c>, <c>--cert</c>, <c>--key</c>), in one bounded pass:
/// only a regular file (a FIFO or a device is opened <c>O_NONBLOCK</c> and refused after <c>fstat</c>, never waited
/// on or read forever), at most <see cref="MaxBytes"/> (a file larger by its length is refused unread, and at most one
/// byte more than the limit is ever read), as strict UTF-8 (a leading byte order mark skipped). A problem comes back
/// as words naming the real reason ("is a directory", "cannot be opened: Permission denied"), never as an exception.
/// </summary>
internal static class RequestFile
{
    /// <summary>The agent's limit on a request (gRPC's default 4 MiB): a larger file could not be sent anyway.</summary>
    public const int MaxBytes = GrpcFraming.DefaultMaxMessageSize;

    private const uint TypeMask = 0xF000; // S_IFMT

    /// <summary>Where the buffer starts for a file whose length says nothing (procfs reports 0).</summary>
    private const int UnknownLengthBuffer = 4096;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The text of the file at <paramref name="path"/>; null with <paramref name="problem"/> when it cannot be had.</summary>
    public static string? ReadText(string path, out string problem) => ReadText(path, MaxBytes, out problem);

    /// <summary>The text of the file at <paramref name="path"/>, at most <paramref name="maxBytes"/>; null with <paramref name="problem"/> otherwise.</summary>
    internal static string? ReadText(string path, int maxBytes, out string problem)
    {
        byte[]? bytes = ReadBytes(path, maxBytes, out problem, out int length);
        if (bytes is null)
        {
            return null;
        }

        int offset = bytes.AsSpan(0, length).StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        try
        {
            return StrictUtf8.GetString(bytes, offset, length - offset);
        }
        catch (DecoderFallbackException ex)
        {
            problem = "is not UTF-8 text" + (ex.Index >= 0 ? $" (byte offset {offset + ex.Index})" : string.Empty);
            return null;
        }
    }

    /// <summary>
    /// The text of the file <paramref name="option"/> names, or null after one line on stderr naming the option, the
    /// path and the problem; the caller then exits <see cref="ExitCodes.Usage"/>.
    /// </summary>
    public static string? ReadOrReport(string option, string path)
    {
        if (ReadText(path, out string problem) is { } text)
        {
            return text;
        }

        Console.Error.WriteLine("aifactoryctl: " + Describe(option, path, problem));
        return null;
    }

    /// <summary>The usage error's line, as for any bad option value: the option, the path quoted (control characters escaped), and the problem.</summary>
    public static string Describe(string option, string path, string problem) => $"{option}: invalid value \"{GlobalOptions.Quote(path, int.MaxValue)}\": {problem}";

    private static byte[]? ReadBytes(string path, int maxBytes, out string problem, out int length)
    {
        length = 0;
        if (path.Length == 0)
        {
            problem = "the path is empty";
            return null;
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            problem = "the path holds a NUL character";
            return null;
        }

        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; fstat refuses it right after.
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC | Libc.O_NOCTTY);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            problem = errno == Libc.ENOENT ? "file does not exist" : "cannot be opened: " + Marshal.GetPInvokeErrorMessage(errno);
            return null;
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Libc.Statx(fd, string.Empty, Libc.AT_EMPTY_PATH, Libc.STATX_TYPE | Libc.STATX_SIZE, out Libc.StatxBuffer stat) != 0)
        {
            problem = "cannot be read: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            return null;
        }

        if (TypeProblem(stat.Mode) is { } type)
        {
            problem = type;
            return null;
        }

        if (stat.Size > (ulong)maxBytes)
        {
            problem = TooLarge(maxBytes);
            return null;
        }

        // One byte more than the limit: a read that reaches it means the file grew past the limit while read.
        int limit = maxBytes + 1;
        byte[] buffer = new byte[stat.Size == 0 ? Math.Min(UnknownLengthBuffer, limit) : (int)stat.Size + 1];
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    Array.Resize(ref buffer, (int)Math.Min(2L * buffer.Length, limit));
                }

                int n = RandomAccess.Read(handle, buffer.AsSpan(length), length);
                if (n == 0)
                {
                    break;
                }

                length += n;
                if (length >= limit)
                {
                    problem = TooLarge(maxBytes);
                    return null;
                }
            }
        }
        catch (IOException ex)
        {
            problem = "cannot be read: " + ex.Message;
            return null;
        }

        problem = string.Empty;
        return buffer;
    }

    /// <summary>Why a file of this <c>st_mode</c> is not read, or null for a regular file.</summary>
    internal static string? TypeProblem(uint mode) => (mode & TypeMask) switch
    {
        0x8000 => null,
        0x4000 => "is a directory",
        0x1000 => "is not a regular file (a FIFO)",
        0x2000 => "is not a regular file (a character device)",
        0x6000 => "is not a regular file (a block device)",
        0xC000 => "is not a regular file (a socket)",
        _ => "is not a regular file",
    };

    private static string TooLarge(int maxBytes) =>
        "is larger than " + (maxBytes % (1024 * 1024) == 0 ? $"{maxBytes / (1024 * 1024)} MiB" : $"{maxBytes} bytes") + ", the most a request to the agent may carry";
}
