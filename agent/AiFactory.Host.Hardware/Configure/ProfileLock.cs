using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The one node-profile change at a time across processes: an exclusive, non-blocking <c>flock</c> on
/// <c>&lt;state dir&gt;/profile/lock</c>, held by the daemon and by the offline <c>aifactory-agent profile</c> command
/// for a recovery, and for an apply from its plan to its last step. The kernel lets go of it when the holder exits
/// or is killed, so a crash never leaves it held. The holder writes who it is into the file (pid, command, what it
/// does, since when); a second applier refuses at once with that line, rather than recover (roll back) a journal
/// the first one is still writing.
/// </summary>
public sealed class ProfileLock : IDisposable
{
    private readonly SafeFileHandle _file;

    private ProfileLock(SafeFileHandle file, string path)
    {
        _file = file;
        FilePath = path;
    }

    /// <summary>The lock file.</summary>
    public string FilePath { get; }

    /// <summary>The lock file of a state dir.</summary>
    public static string PathIn(string stateDir) => Path.Join(stateDir, "profile", "lock");

    /// <summary>
    /// Takes the lock for <paramref name="purpose"/> ("apply (api)", "recover"), or throws
    /// <see cref="ProfileLockedException"/> naming the holder when another open of it (another process, or another
    /// applier in this one) has it. Never waits.
    /// </summary>
    /// <exception cref="IOException">The lock file cannot be created or opened (the message names it and the errno).</exception>
    public static ProfileLock Acquire(string stateDir, string purpose)
    {
        string path = PathIn(stateDir);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Opened directly, not through FileStream: .NET takes (or, with DOTNET_SYSTEM_IO_DISABLEFILELOCKING, skips)
        // its own flock on what it opens, which would decide the outcome here.
        int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0x180); // 0600
        if (fd < 0)
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"cannot open the profile lock {path}: errno {Marshal.GetLastPInvokeError()}"));
        }

        var file = new SafeFileHandle(fd, ownsHandle: true);
        if (Libc.Flock(file, Libc.LOCK_EX | Libc.LOCK_NB) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string holder = errno == Libc.EAGAIN ? Holder(file) : string.Empty;
            file.Dispose();
            if (errno != Libc.EAGAIN)
            {
                throw new IOException(string.Create(CultureInfo.InvariantCulture, $"cannot lock the profile lock {path}: errno {errno}"));
            }

            throw new ProfileLockedException(path, holder);
        }

        // One line, padded with spaces over whatever a longer earlier line left (no truncate: the reader takes the first line).
        string line = string.Create(CultureInfo.InvariantCulture,
            $"pid {Environment.ProcessId} ({Command()}): {purpose}, since {DateTimeOffset.UtcNow:yyyy-MM-dd'T'HH:mm:ss'Z'}");
        byte[] bytes = Encoding.UTF8.GetBytes(line.PadRight(Math.Max(line.Length, 255)) + "\n");
        try
        {
            RandomAccess.Write(file, bytes, 0);
        }
        catch (IOException)
        {
            // Who holds it is for a refusal's message only; the lock itself is held.
        }

        return new ProfileLock(file, path);
    }

    /// <summary>Lets go of the lock (closing the file, as the kernel does when the process dies).</summary>
    public void Dispose() => _file.Dispose();

    private static string Holder(SafeFileHandle file)
    {
        try
        {
            byte[] buffer = new byte[1024];
            int n = RandomAccess.Read(file, buffer, 0);
            string text = Encoding.UTF8.GetString(buffer, 0, n);
            int end = text.IndexOf('\n', StringComparison.Ordinal);
            return (end < 0 ? text : text[..end]).Trim();
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    private static string Command()
    {
        string[] args = Environment.GetCommandLineArgs();
        string command = string.Join(' ', args.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a));
        return command.Length > 160 ? command[..160] + "..." : command;
    }
}
