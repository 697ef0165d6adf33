namespace AiFactory.Agent.Metrics.Sources;

/// <summary>
/// A device's AER counters: <c>aer_dev_correctable</c>, <c>aer_dev_nonfatal</c>, <c>aer_dev_fatal</c>, each
/// "Name count" per line (the <c>TOTAL_ERR_*</c> lines are left out: they are the sums).
/// </summary>
internal sealed record AerCounters(
    IReadOnlyList<KeyValuePair<string, long>> Correctable,
    IReadOnlyList<KeyValuePair<string, long>> NonFatal,
    IReadOnlyList<KeyValuePair<string, long>> Fatal)
{
    /// <summary>Parses one aer_dev_* file. Lines that are not "name count" throw with the line and the file's name.</summary>
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
            if (space <= 0 || !long.TryParse(line[(space + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long count))
            {
                throw new FormatException($"failed to parse {fileName} line \"{line.ToString()}\": want \"<name> <count>\"");
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
