using System.Runtime.InteropServices;
using System.Text;
using AiFactory.Host.Hardware.Sysfs;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// Reads a small text file that a caller names by path but that must lie in one directory: a file a profile names
/// (<c>mig.partedConfig</c>), read by a daemon running as root for a caller who may not read it himself. The path must
/// be absolute, below the directory, without <c>.</c> or <c>..</c> components; it is opened beneath the directory
/// (openat2 RESOLVE_BENEATH, or realpath and a prefix check where openat2 is refused), so a symbolic link that leads
/// out of it fails; only a regular file is read (a FIFO or a device is refused, never waited on), at most
/// <c>maxBytes</c>, as strict UTF-8. Errors name the path and the problem, never a byte of the file.
/// </summary>
public static unsafe class ConfinedFile
{
    /// <summary>The text of <paramref name="path"/>; throws <see cref="IOException"/> saying what is wrong otherwise.</summary>
    public static string ReadText(string directory, string path, int maxBytes)
    {
        string root = directory.TrimEnd('/');
        if (!Path.IsPathFullyQualified(path))
        {
            throw new IOException($"{path}: must be an absolute path below {root}/");
        }

        if (path.Split('/').Any(segment => segment is "." or ".."))
        {
            throw new IOException($"{path}: must not contain . or .. components");
        }

        if (!path.StartsWith(root + "/", StringComparison.Ordinal) || path.Length == root.Length + 1)
        {
            throw new IOException($"{path}: must be a file below {root}/");
        }

        string relative = path[(root.Length + 1)..].TrimEnd('/');
        var paths = new SysfsPaths(root, contained: true);
        int fd = paths.Open(relative, [], Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC | Libc.O_NOCTTY, out int errno);
        if (fd < 0)
        {
            throw new IOException(errno == SysfsFile.EXDEV
                ? $"{path}: leads out of {root}/ (a symbolic link)"
                : $"{path}: cannot be opened: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        try
        {
            FileIdentity? identity = FileIdentity.OfDescriptor(fd);
            if (identity is not { IsRegularFile: true })
            {
                throw new IOException(identity is { IsDirectory: true } ? $"{path}: is a directory" : $"{path}: is not a regular file");
            }

            byte[] buffer = new byte[maxBytes + 1];
            int length = 0;
            fixed (byte* b = buffer)
            {
                while (length < buffer.Length)
                {
                    nint n = Libc.Read(fd, b + length, buffer.Length - length);
                    if (n < 0)
                    {
                        int error = Marshal.GetLastSystemError();
                        if (error == Libc.EINTR)
                        {
                            continue;
                        }

                        throw new IOException($"{path}: cannot be read: {Marshal.GetPInvokeErrorMessage(error)}");
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    length += (int)n;
                }
            }

            if (length > maxBytes)
            {
                throw new IOException($"{path}: is larger than {Size(maxBytes)}");
            }

            try
            {
                return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(buffer, 0, length);
            }
            catch (DecoderFallbackException ex)
            {
                throw new IOException($"{path}: is not valid UTF-8" + (ex.Index >= 0 ? $" at byte offset {ex.Index}" : string.Empty));
            }
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }

    private static string Size(int bytes) =>
        bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB" : $"{bytes} bytes";
}
