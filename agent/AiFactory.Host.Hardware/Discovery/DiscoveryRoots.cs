using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;

namespace AiFactory.Host.Hardware.Discovery;

/// <summary>
/// Whether the roots discovery is pointed at can be a machine at all, checked before anything is read: a wrong
/// <c>--sysfs-root</c> (a fixture's folder rather than its <c>sys/</c>, a typo) would otherwise discover an empty
/// machine, and a wrong <c>--procfs-root</c> silently no memory, kernel command line or host-needed devices.
/// </summary>
public static class DiscoveryRoots
{
    /// <summary>The file every sysfs has (the online CPUs); its absence means the root is not a sysfs tree.</summary>
    public const string CpuOnline = "devices/system/cpu/online";

    /// <summary>
    /// What is wrong with a root as given on the command line, before it is made a path: empty (an unset variable in
    /// a script). Null when it can be a path.
    /// </summary>
    /// <param name="option">The option that gave it, as the user typed it (<c>--sysfs-root</c>).</param>
    /// <param name="wanted">What the option names, for the empty case ("a directory", "a file to write").</param>
    public static string? TextProblem(string option, string? value, string wanted = "a directory") =>
        string.IsNullOrEmpty(value) ? $"{option} is empty: give {wanted}" : null;

    /// <summary>
    /// One line saying what is wrong with the roots ("sysfs root /x has no devices/system/cpu/online: not a sysfs
    /// tree"), or null when discovery can go ahead.
    /// </summary>
    public static string? Problem(SysfsRoot sysfs, ProcfsRoot? procfs)
    {
        string sysfsShown = sysfs.MountPoint.Length == 0 ? "/" : sysfs.MountPoint;
        if (!sysfs.IsDirectory())
        {
            return $"sysfs root {sysfsShown} is not a directory";
        }

        if (!sysfs.Exists(CpuOnline))
        {
            return $"sysfs root {sysfsShown} has no {CpuOnline}: not a sysfs tree (a fixture's is its sys/ folder)";
        }

        if (procfs is not null && !Directory.Exists(procfs.MountPoint.Length == 0 ? "/" : procfs.MountPoint))
        {
            return $"procfs root {(procfs.MountPoint.Length == 0 ? "/" : procfs.MountPoint)} is not a directory";
        }

        return null;
    }
}
