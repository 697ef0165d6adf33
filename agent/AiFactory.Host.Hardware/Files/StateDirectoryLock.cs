using System.Globalization;

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

    private readonly FileLock _lock;

    private StateDirectoryLock(FileLock held) => _lock = held;

    /// <summary>
    /// Takes the lock of <paramref name="stateDir"/>, or returns null with <paramref name="problem"/> saying why in one
    /// line: another daemon holds it (naming the state dir and, when the file says, its pid), or the file cannot be
    /// opened (a symbolic link or anything but a regular file in its place is refused, never followed).
    /// </summary>
    public static StateDirectoryLock? TryAcquire(string stateDir, out string problem)
    {
        string path = Path.Join(stateDir, FileName);
        FileLock file;
        try
        {
            file = FileLock.Open(path, create: true, writable: true)!;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problem = "cannot open the state-dir lock: " + ex.Message;
            return null;
        }

        bool held;
        try
        {
            held = file.TryLock(exclusive: true);
        }
        catch (IOException ex)
        {
            file.Dispose();
            problem = ex.Message;
            return null;
        }

        if (!held)
        {
            string holder = file.ReadHolder(32);
            file.Dispose();
            problem = $"another agent already uses state-dir {stateDir}" +
                (holder.Length > 0 && holder.All(char.IsAsciiDigit) ? $" (pid {holder}, in {path})" : string.Empty);
            return null;
        }

        file.WriteHolder(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        problem = string.Empty;
        return new StateDirectoryLock(file);
    }

    /// <summary>
    /// The pid the agent holding <paramref name="stateDir"/>'s lock wrote there, read without taking the lock (a probe
    /// would refuse an agent starting at that moment), for a message once something else showed that an agent runs on
    /// the state dir: the file keeps the pid of an agent that has exited, so it proves nothing alone. Null when the
    /// file is absent, cannot be read or holds no pid.
    /// </summary>
    public static string? HolderPid(string stateDir)
    {
        try
        {
            using FileLock? file = FileLock.Open(Path.Join(stateDir, FileName), create: false);
            string holder = file?.ReadHolder(32) ?? string.Empty;
            return holder.Length > 0 && holder.All(char.IsAsciiDigit) ? holder : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Lets go of the lock (closing the file, as the kernel does when the process dies).</summary>
    public void Dispose() => _lock.Dispose();
}
