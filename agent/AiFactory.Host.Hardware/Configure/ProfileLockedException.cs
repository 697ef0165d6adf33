namespace AiFactory.Host.Hardware.Configure;

/// <summary>Another applier (the daemon, an offline <c>aifactory-agent profile</c>) is changing the node profile.</summary>
public sealed class ProfileLockedException : IOException
{
    /// <summary>Creates the exception from the lock file and the holder's line (empty when it wrote none).</summary>
    public ProfileLockedException(string lockPath, string holder)
        : base($"another node-profile change is in progress ({(holder.Length == 0 ? "holder unknown: it wrote no line" : "held by " + holder)}; lock {lockPath}): nothing done, try again when it has finished")
    {
        LockPath = lockPath;
        Holder = holder;
    }

    /// <summary>The lock file.</summary>
    public string LockPath { get; }

    /// <summary>Who holds it: pid, command, what it does and since when, as the holder wrote it.</summary>
    public string Holder { get; }
}
