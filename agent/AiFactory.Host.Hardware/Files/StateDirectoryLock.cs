using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// One daemon per state directory: an exclusive, non-blocking <c>flock</c> on <c>&lt;state dir&gt;/agent.lock</c>,
/// taken at start and held for the daemon's lifetime (the kernel lets go of it when the process exits or dies, so a
/// crash never leaves it held). Two daemons with different sockets would otherwise both own the lease ledger and the
/// profile journal. The holder writes its pid into the file, for the refusal's message. The offline commands that
/// only read (discover, capture-fixture) never take it.
/// </summary>
public sealed class StateDirectoryLock : IDisposable
{
    /// <summary>The lock file's name in the state directory.</summary>
    public const string FileName = "agent.lock";

    private readonly SafeFileHandle _file;

    private StateDirectoryLock(SafeFileHandle file) => _file = file;

    /// <summary>
    /// Takes the lock of <paramref name="stateDir"/>, or returns null with <paramref name="problem"/> saying why in one
    /// line: another daemon holds it (naming the state dir and, when the file says, its pid), or the file cannot be
    /// opened (a symbolic link in its place is refused, never followed).
    /// </summary>
    public static StateDirectoryLock? TryAcquire(string stateDir, out string problem)
    {
        string path = Path.Join(stateDir, FileName);
        // Opened directly, not through FileStream: .NET takes its own flock on what it opens.
        int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC | Libc.O_NOFOLLOW, 0x1A4); // 0644
        if (fd < 0)
        {
            int openErrno = Marshal.GetLastPInvokeError();
            problem = string.Create(CultureInfo.InvariantCulture, $"cannot open the state-dir lock {path}: {Marshal.GetPInvokeErrorMessage(openErrno)}");
            return null;
        }

        var file = new SafeFileHandle(fd, ownsHandle: true);
        if (Libc.Flock(file, Libc.LOCK_EX | Libc.LOCK_NB) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            string? holder = errno == Libc.EAGAIN ? Holder(file) : null;
            file.Dispose();
            problem = errno == Libc.EAGAIN
                ? $"another agent already uses state-dir {stateDir}" + (holder is null ? string.Empty : $" (pid {holder}, in {path})")
                : $"cannot lock the state-dir lock {path}: {Marshal.GetPInvokeErrorMessage(errno)}";
            return null;
        }

        try
        {
            // The pid alone, on one line: truncate first, so a longer earlier pid leaves no digits behind.
            RandomAccess.SetLength(file, 0);
            RandomAccess.Write(file, Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n"), 0);
        }
        catch (IOException)
        {
            // The pid is for a refusal's message only; the lock itself is held.
        }

        problem = string.Empty;
        return new StateDirectoryLock(file);
    }

    /// <summary>Lets go of the lock (closing the file, as the kernel does when the process dies).</summary>
    public void Dispose() => _file.Dispose();

    private static string? Holder(SafeFileHandle file)
    {
        try
        {
            byte[] buffer = new byte[32];
            int n = RandomAccess.Read(file, buffer, 0);
            string text = Encoding.ASCII.GetString(buffer, 0, n).Trim();
            return text.Length > 0 && text.All(char.IsAsciiDigit) ? text : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
