using System.Runtime.InteropServices;
using AiFactory.Host.Hardware.Sysfs;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// Reads a small text file that a caller names by path but that must lie in one directory: a file a profile names
/// (<c>mig.partedConfig</c>), read by a daemon running as root for a caller who may not read it himself. The path must
/// be absolute, below the directory, without <c>.</c> or <c>..</c> components; it is opened beneath the directory
/// (openat2 RESOLVE_BENEATH, or realpath and a prefix check where openat2 is refused), so a symbolic link that leads
/// out of it fails; then it is read as <see cref="BoundedFile"/> reads (a regular file only, at most <c>maxBytes</c>,
/// strict UTF-8). Errors name the path and the problem, never a byte of the file.
/// </summary>
public static class ConfinedFile
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
            return BoundedFile.ReadText(fd, path, maxBytes);
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }
}
