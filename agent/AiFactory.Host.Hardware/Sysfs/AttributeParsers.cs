using System.Globalization;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Pure parsers for the value formats sysfs attributes share (hex ids, decimal counts, link speeds). Each returns
/// false with an error that quotes the raw value; callers turn that into a warning naming the file.
/// </summary>
public static class AttributeParsers
{
    /// <summary>A 16-bit hex id as in <c>vendor</c>/<c>device</c>: <c>0x10de</c>.</summary>
    public static bool TryParseHexId(ReadOnlySpan<char> raw, out ushort id, out string? error)
    {
        id = 0;
        error = null;
        ReadOnlySpan<char> s = raw.Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            s = s[2..];
        }

        if (s.Length is 0 or > 4 || !ushort.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out id))
        {
            error = $"\"{Discovery.RawText.Quote(raw.ToString())}\" is not a 16-bit hex id (expected e.g. 0x10de)";
            return false;
        }

        return true;
    }

    /// <summary>The 24-bit class code as in <c>class</c>: <c>0x030200</c>.</summary>
    public static bool TryParseClass(ReadOnlySpan<char> raw, out uint classCode, out string? error)
    {
        classCode = 0;
        error = null;
        ReadOnlySpan<char> s = raw.Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            s = s[2..];
        }

        if (s.Length is 0 or > 6 || !uint.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out classCode))
        {
            error = $"\"{Discovery.RawText.Quote(raw.ToString())}\" is not a 24-bit hex class code (expected e.g. 0x030200)";
            return false;
        }

        return true;
    }

    /// <summary>A decimal integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static bool TryParseInt(ReadOnlySpan<char> raw, long min, long max, out long value, out string? error)
    {
        error = null;
        if (!long.TryParse(raw.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            error = $"\"{Discovery.RawText.Quote(raw.ToString())}\" is not a number";
            return false;
        }

        if (value < min || value > max)
        {
            error = $"{value} is outside {min}..{max}";
            return false;
        }

        return true;
    }

    /// <summary>
    /// <c>numa_node</c>: a node id, or -1 for "unknown" (null — not node 0). Values below -1 or absurdly large are errors.
    /// </summary>
    public static bool TryParseNumaNode(ReadOnlySpan<char> raw, out int? node, out string? error)
    {
        node = null;
        if (!TryParseInt(raw, -1, 1023, out long v, out error))
        {
            error = $"numa_node {error}";
            return false;
        }

        node = v < 0 ? null : (int)v;
        return true;
    }

    /// <summary>
    /// A link speed as in <c>current_link_speed</c>: <c>32.0 GT/s PCIe</c> (or the older <c>8 GT/s</c>, <c>2.5 GT/s</c>)
    /// in GT/s; <c>Unknown</c> (a link that is down or a function without one) is null without an error.
    /// </summary>
    public static bool TryParseLinkSpeed(ReadOnlySpan<char> raw, out double? gts, out string? error)
    {
        gts = null;
        error = null;
        ReadOnlySpan<char> s = raw.Trim();
        if (s.StartsWith("Unknown", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        int space = s.IndexOf(' ');
        ReadOnlySpan<char> number = space < 0 ? s : s[..space];
        ReadOnlySpan<char> unit = space < 0 ? [] : s[(space + 1)..];
        if (!unit.StartsWith("GT/s", StringComparison.Ordinal) ||
            !double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) || v <= 0 || v > 1000)
        {
            error = $"\"{Discovery.RawText.Quote(raw.ToString())}\" is not a link speed (expected e.g. \"32.0 GT/s PCIe\")";
            return false;
        }

        gts = v;
        return true;
    }
}
