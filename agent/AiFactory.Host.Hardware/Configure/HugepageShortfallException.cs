namespace AiFactory.Host.Hardware.Configure;

/// <summary>The kernel gave fewer hugepages than asked, after compaction and retries.</summary>
public sealed class HugepageShortfallException(string path, long asked, long got, int attempts)
    : IOException($"{path}: asked {asked}, the kernel gave {got} after compaction and {attempts} attempts (short by {asked - got})")
{
    /// <summary>The attribute.</summary>
    public string AttributePath { get; } = path;
}
