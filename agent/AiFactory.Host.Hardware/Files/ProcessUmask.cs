namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// The process's file mode creation mask. The daemon tightens it once, at start and before any thread of its own
/// creates files, so that what it creates (the state directory, the lease ledger, the profile's records, the socket's
/// directory) is never writable by the group nor open to others when someone starts it by hand under a loose umask;
/// the packaged unit's <c>UMask=0077</c> is tighter already and is kept.
/// </summary>
public static class ProcessUmask
{
    /// <summary>027: the group may not write, others get nothing.</summary>
    public const UnixFileMode DaemonBits = UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Adds <paramref name="bits"/> to the umask (never loosens it); returns the umask now in force.</summary>
    public static UnixFileMode Tighten(UnixFileMode bits)
    {
        // umask(2) can only be read by setting it: set the bits, then or them into what was there.
        uint previous = Interop.Interop.Libc.Umask((uint)bits & 0x1FF);
        uint now = (previous | (uint)bits) & 0x1FF;
        Interop.Interop.Libc.Umask(now);
        return (UnixFileMode)now;
    }
}
