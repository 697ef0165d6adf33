using System.Collections.Concurrent;
using System.Globalization;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Reads a PCI function's AER counters from <c>/sys/bus/pci/devices/&lt;address&gt;/aer_dev_{correctable,nonfatal,fatal}</c>,
/// each "&lt;name&gt; &lt;count&gt;" per line. A function without the files (no AER capability, an old kernel) gets null.
/// Read at every metrics scrape, so whether a function has the files is remembered: it does not change while the
/// function exists, and a scrape then pays no failed opens for the many functions without AER.
/// </summary>
public sealed class PciAerReader
{
    /// <summary>Correctable errors: <c>/sys/bus/pci/devices/&lt;address&gt;/aer_dev_correctable</c>.</summary>
    public const string CorrectableFile = "aer_dev_correctable";

    /// <summary>Uncorrectable non-fatal errors: <c>/sys/bus/pci/devices/&lt;address&gt;/aer_dev_nonfatal</c>.</summary>
    public const string NonFatalFile = "aer_dev_nonfatal";

    /// <summary>Uncorrectable fatal errors: <c>/sys/bus/pci/devices/&lt;address&gt;/aer_dev_fatal</c>.</summary>
    public const string FatalFile = "aer_dev_fatal";

    private readonly SysfsRoot _root;
    private readonly ConcurrentDictionary<PciAddress, bool> _hasAer = new();

    /// <summary>A reader over <paramref name="root"/>.</summary>
    public PciAerReader(SysfsRoot root)
    {
        _root = root;
    }

    /// <summary>
    /// The counters of <paramref name="address"/>, or null when it has no AER files. A file that cannot be read
    /// counts as absent (the reason goes to <paramref name="warnings"/>); a malformed one throws <see cref="FormatException"/>.
    /// </summary>
    public AerCounters? Read(PciAddress address, DiscoveryWarnings warnings)
    {
        string dir = PciDeviceReader.DevicesDirectory + "/" + address.ToString();
        if (!_hasAer.GetOrAdd(address, static (_, s) => s.Root.Exists(s.Dir + "/" + CorrectableFile) ||
            s.Root.Exists(s.Dir + "/" + NonFatalFile) || s.Root.Exists(s.Dir + "/" + FatalFile), (Root: _root, Dir: dir)))
        {
            return null;
        }

        string? correctable = _root.ReadAttribute(dir + "/" + CorrectableFile, warnings, changesConstantly: true);
        string? nonFatal = _root.ReadAttribute(dir + "/" + NonFatalFile, warnings, changesConstantly: true);
        string? fatal = _root.ReadAttribute(dir + "/" + FatalFile, warnings, changesConstantly: true);
        if (correctable is null && nonFatal is null && fatal is null)
        {
            return null;
        }

        string device = address.ToString();
        return new AerCounters(
            correctable is null ? [] : Parse(correctable, CorrectableFile + " for " + device),
            nonFatal is null ? [] : Parse(nonFatal, NonFatalFile + " for " + device),
            fatal is null ? [] : Parse(fatal, FatalFile + " for " + device));
    }

    /// <summary>
    /// Parses one aer_dev_* file: "&lt;name&gt; &lt;count&gt;" per line, the <c>TOTAL_ERR_*</c> sums left out. A line of
    /// another shape throws with the line and <paramref name="fileName"/> (which names the device too).
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, long>> Parse(ReadOnlySpan<char> text, string fileName)
    {
        var result = new List<KeyValuePair<string, long>>();
        foreach (Range range in text.Split('\n'))
        {
            ReadOnlySpan<char> line = text[range].Trim();
            if (line.IsEmpty)
            {
                continue;
            }

            int space = line.LastIndexOf(' ');
            if (space <= 0 || !long.TryParse(line[(space + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out long count))
            {
                throw new FormatException($"failed to parse {fileName} line \"{RawText.Quote(line.ToString())}\": want \"<name> <count>\"");
            }

            string name = line[..space].Trim().ToString();
            if (name.StartsWith("TOTAL_", StringComparison.Ordinal))
            {
                continue;
            }

            result.Add(new KeyValuePair<string, long>(name, count));
        }

        return result;
    }
}
