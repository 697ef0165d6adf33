namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The kernel's pool did not come to the size asked: fewer pages than asked after compaction and retries, or, when
/// shrinking, more (pages in use are not freed).
/// </summary>
public sealed class HugepageShortfallException(string path, long asked, long got, int attempts)
    : IOException(Describe(path, asked, got, attempts))
{
    /// <summary>The attribute.</summary>
    public string AttributePath { get; } = path;

    /// <summary>The message: "short by N" only when the kernel gave fewer; "N more than asked" when it kept more.</summary>
    internal static string Describe(string path, long asked, long got, int attempts) =>
        got < 0 ? $"{path}: asked {asked}, and the value could not be read back" :
        got < asked ? $"{path}: asked {asked}, the kernel gave {got} after compaction and {attempts} attempts (short by {asked - got})" :
        $"{path}: asked {asked}, the kernel kept {got} ({got - asked} more than asked: pages in use are not freed)";
}
