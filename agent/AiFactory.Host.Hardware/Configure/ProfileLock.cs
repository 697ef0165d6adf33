using System.Globalization;
using AiFactory.Host.Hardware.Files;

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
    private readonly FileLock _lock;

    private ProfileLock(FileLock held) => _lock = held;

    /// <summary>The lock file.</summary>
    public string FilePath => _lock.FilePath;

    /// <summary>The lock file of a state dir.</summary>
    public static string PathIn(string stateDir) => Path.Join(stateDir, "profile", "lock");

    /// <summary>
    /// Takes the lock for <paramref name="purpose"/> ("apply (api)", "recover"), or throws
    /// <see cref="ProfileLockedException"/> naming the holder when another open of it (another process, or another
    /// applier in this one) has it. Never waits.
    /// </summary>
    /// <exception cref="IOException">The lock file cannot be created or opened, or is a link or not a regular file (the message names it and why).</exception>
    public static ProfileLock Acquire(string stateDir, string purpose)
    {
        string path = PathIn(stateDir);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        FileLock file;
        try
        {
            file = FileLock.Open(path, create: true, writable: true, mode: 0x180)!; // 0600
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new IOException("cannot open the profile lock " + ex.Message, ex);
        }

        if (!file.TryLock(exclusive: true))
        {
            string holder = file.ReadHolder();
            file.Dispose();
            throw new ProfileLockedException(path, holder);
        }

        file.WriteHolder(string.Create(CultureInfo.InvariantCulture,
            $"pid {Environment.ProcessId} ({Command()}): {purpose}, since {DateTimeOffset.UtcNow:yyyy-MM-dd'T'HH:mm:ss'Z'}"), padTo: 255);
        return new ProfileLock(file);
    }

    /// <summary>Lets go of the lock (closing the file, as the kernel does when the process dies).</summary>
    public void Dispose() => _lock.Dispose();

    private static string Command()
    {
        string[] args = Environment.GetCommandLineArgs();
        string command = string.Join(' ', args.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a));
        return command.Length > 160 ? command[..160] + "..." : command;
    }
}
