using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Metrics.Sources;

/// <summary>
/// Reads <c>bus/pci/devices/&lt;address&gt;/aer_dev_{correctable,nonfatal,fatal}</c> under a sysfs root (a fixture
/// tree in tests). A device without the files (no AER capability, or an old kernel) gets null.
/// </summary>
internal sealed class SysfsAerReader
{
    private readonly string _sysfsRoot;

    // Whether a device has AER files does not change while it exists; remembering the "no" answers keeps a scrape
    // from paying three failed opens per device every time.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<PciAddress, bool> _hasAer = new();

    public SysfsAerReader(string sysfsRoot)
    {
        _sysfsRoot = sysfsRoot;
    }

    /// <summary>The counters of <paramref name="address"/>, or null when its sysfs has no AER files.</summary>
    public AerCounters? Read(PciAddress address)
    {
        string dir = Path.Combine(_sysfsRoot, "bus", "pci", "devices", address.ToString());
        if (!_hasAer.GetOrAdd(address, static (_, d) => HasAerFiles(d), dir))
        {
            return null;
        }

        string? correctable = ReadSmall(Path.Combine(dir, "aer_dev_correctable"));
        string? nonFatal = ReadSmall(Path.Combine(dir, "aer_dev_nonfatal"));
        string? fatal = ReadSmall(Path.Combine(dir, "aer_dev_fatal"));
        if (correctable is null && nonFatal is null && fatal is null)
        {
            return null;
        }

        string device = address.ToString();
        return new AerCounters(
            correctable is null ? [] : AerCounters.Parse(correctable, "aer_dev_correctable for " + device),
            nonFatal is null ? [] : AerCounters.Parse(nonFatal, "aer_dev_nonfatal for " + device),
            fatal is null ? [] : AerCounters.Parse(fatal, "aer_dev_fatal for " + device));
    }

    private static bool HasAerFiles(string dir) =>
        File.Exists(Path.Combine(dir, "aer_dev_correctable")) || File.Exists(Path.Combine(dir, "aer_dev_nonfatal")) ||
        File.Exists(Path.Combine(dir, "aer_dev_fatal"));

    /// <summary>
    /// One bounded read of a small sysfs attribute: sysfs hands out at most a page per read, and a retrying reader
    /// could spin on an attribute that returns EAGAIN. Null when the file does not exist.
    /// </summary>
    private static string? ReadSmall(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            Span<byte> buffer = stackalloc byte[4096];
            int n = RandomAccess.Read(handle, buffer, 0);
            return System.Text.Encoding.ASCII.GetString(buffer[..n]);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
