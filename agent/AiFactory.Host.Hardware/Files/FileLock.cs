using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// An advisory <c>flock(2)</c> on a state file that processes use to exclude each other (the lease ledger's
/// <c>leases.lock</c>, the probe of its journal). Taken directly, not through <see cref="FileStream"/>: .NET takes
/// (or, with <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING=1</c>, silently skips) its own lock there. The file is opened
/// <c>O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC</c>: a symbolic link put there is refused, a FIFO opens at once instead of
/// waiting for a writer, and anything but a regular file is refused after <c>fstat</c>, naming the path. A flock
/// belongs to the open file description: two <see cref="Open"/>s exclude each other in one process as in two, and the
/// kernel lets go when the file is closed or its holder dies. A lock opened writable can name its holder in the file
/// (<see cref="WriteHolder"/>), for a refused taker's message (<see cref="ReadHolder"/>): the profile lock and the
/// state directory's <c>agent.lock</c>.
/// </summary>
public sealed class FileLock : IDisposable
{
    private const int Mode0644 = 0x1A4;

    private readonly SafeFileHandle _file;

    private FileLock(SafeFileHandle file, string path)
    {
        _file = file;
        FilePath = path;
    }

    /// <summary>The file.</summary>
    public string FilePath { get; }

    /// <summary>
    /// Opens <paramref name="path"/> (created with <paramref name="mode"/>, 0644 by default, when
    /// <paramref name="create"/>), read-only or <paramref name="writable"/> (to name the holder), holding no lock yet;
    /// null when it does not exist and is not to be created.
    /// </summary>
    /// <exception cref="IOException">It is a symbolic link, not a regular file, or cannot be opened (the message names the path and why).</exception>
    /// <exception cref="UnauthorizedAccessException">Opening it is not permitted (EACCES, EPERM).</exception>
    public static FileLock? Open(string path, bool create, bool writable = false, int mode = Mode0644)
    {
        int flags = (writable ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_NONBLOCK | Libc.O_NOFOLLOW | Libc.O_CLOEXEC | Libc.O_NOCTTY | (create ? Libc.O_CREAT : 0);
        int fd = Libc.Open(path, flags, mode);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.ENOENT && !create)
            {
                return null;
            }

            throw errno switch
            {
                Libc.ELOOP => new IOException($"{path}: is a symbolic link; not opened"),
                Libc.EACCES or Libc.EPERM => new UnauthorizedAccessException($"{path}: cannot be opened: {Marshal.GetPInvokeErrorMessage(errno)}"),
                _ => new IOException($"{path}: cannot be opened: {Marshal.GetPInvokeErrorMessage(errno)}"),
            };
        }

        var file = new SafeFileHandle(fd, ownsHandle: true);
        if (FileIdentity.OfDescriptor(fd) is not { IsRegularFile: true })
        {
            file.Dispose();
            throw new IOException($"{path}: is not a regular file (a FIFO, device or socket); not opened");
        }

        return new FileLock(file, path);
    }

    /// <summary>
    /// Takes the lock, shared or <paramref name="exclusive"/>, without waiting (a held shared lock is converted); false
    /// while another open file description holds one that excludes it.
    /// </summary>
    /// <exception cref="IOException">flock failed for another reason (the message names the path and the errno).</exception>
    public bool TryLock(bool exclusive)
    {
        if (Libc.Flock(_file, (exclusive ? Libc.LOCK_EX : Libc.LOCK_SH) | Libc.LOCK_NB) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == Libc.EAGAIN)
        {
            return false;
        }

        throw new IOException($"{FilePath}: cannot be locked: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>
    /// Writes <paramref name="line"/> as the file's first line, padded with spaces to <paramref name="padTo"/> over
    /// whatever a longer earlier line left (no truncation: a reader takes the first line). Best effort: the holder's
    /// name is for a refusal's message only, the lock is held either way.
    /// </summary>
    public void WriteHolder(string line, int padTo = 0)
    {
        try
        {
            RandomAccess.Write(_file, Encoding.UTF8.GetBytes(line.PadRight(Math.Max(line.Length, padTo)) + "\n"), 0);
        }
        catch (IOException)
        {
            // Not named; still held.
        }
    }

    /// <summary>The first line of the file (what its holder wrote), trimmed; empty when it cannot be read.</summary>
    public string ReadHolder(int maxBytes = 1024)
    {
        try
        {
            byte[] buffer = new byte[maxBytes];
            int n = RandomAccess.Read(_file, buffer, 0);
            string text = Encoding.UTF8.GetString(buffer, 0, n);
            int end = text.IndexOf('\n', StringComparison.Ordinal);
            return (end < 0 ? text : text[..end]).Trim();
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    /// <summary>Closes the file, which lets go of the lock.</summary>
    public void Dispose() => _file.Dispose();
}
