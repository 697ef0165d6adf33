using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// Writes a file that a user names (<c>capture-fixture --out</c>) as a whole or not at all: into a new temporary file
/// beside it (a random name, created with <c>O_CREAT|O_EXCL|O_NOFOLLOW</c>, so nothing planted there is followed or
/// truncated), fsynced, then renamed over the path. Whatever lies at the path and is not a regular file (a directory,
/// a symbolic link, a FIFO, a device, a socket) is refused and left as it is: run as root, a write through
/// <c>/dev/sda</c> or a link to <c>/etc/shadow</c> would do harm a report file never should.
/// </summary>
public static class ReplacementFile
{
    /// <summary>rw-r--r--, less the umask: the file is meant to be read and passed on.</summary>
    private const int Mode = 0x1A4;

    /// <summary>
    /// Creates or replaces the regular file at <paramref name="path"/> with what <paramref name="write"/> writes.
    /// On any failure no temporary file is left behind and the path holds what it held before.
    /// </summary>
    /// <exception cref="IOException">The path holds something other than a regular file, or the directory cannot be
    /// written (the message says which and why, without the path itself).</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        Refuse(path);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? "/";
        string temp = Path.Join(directory, "." + Path.GetFileName(full) + "." + RandomNumberGenerator.GetHexString(16, lowercase: true) + ".tmp");
        int fd = Libc.Open(temp, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, Mode);
        if (fd < 0)
        {
            throw new IOException($"cannot create a file in {directory}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        bool renamed = false;
        try
        {
            using (var stream = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            // Checked again right before the rename, which replaces the name itself and never writes through it.
            Refuse(path);
            File.Move(temp, full, overwrite: true);
            renamed = true;
        }
        finally
        {
            if (!renamed)
            {
                _ = Libc.Unlink(temp);
            }
        }
    }

    private static void Refuse(string path)
    {
        if (FileIdentity.OfPath(path) is { IsRegularFile: false } existing)
        {
            throw new IOException($"it is {existing.TypeName}, not a regular file; left as it is");
        }
    }
}
