using System.Text;

namespace AiFactory.Host.Hardware.Uevents;

/// <summary>
/// Parses a kernel uevent datagram: <c>ACTION@DEVPATH\0KEY=VALUE\0KEY=VALUE\0...</c> (lib/kobject_uevent.c).
/// Pure: no I/O, tested on inline byte strings.
/// </summary>
public static class UeventParser
{
    /// <summary>
    /// The uevent in <paramref name="datagram"/>, or null when the header is not <c>ACTION@/DEVPATH</c>
    /// (garbage, a libudev-format message, an empty datagram). A last field with no terminating NUL
    /// (a truncated datagram) is dropped, as are fields with no <c>=</c> or an empty key.
    /// </summary>
    public static Uevent? Parse(ReadOnlySpan<byte> datagram)
    {
        int headerEnd = datagram.IndexOf((byte)0);
        if (headerEnd < 0)
        {
            return null;
        }

        ReadOnlySpan<byte> header = datagram[..headerEnd];
        int at = header.IndexOf((byte)'@');
        if (at <= 0 || at + 1 >= header.Length || header[at + 1] != (byte)'/')
        {
            return null;
        }

        string action = Decode(header[..at]);
        string devPath = Decode(header[(at + 1)..]);
        if (!IsPrintable(action) || !IsPrintable(devPath))
        {
            return null;
        }

        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        ReadOnlySpan<byte> rest = datagram[(headerEnd + 1)..];
        while (!rest.IsEmpty)
        {
            int end = rest.IndexOf((byte)0);
            if (end < 0)
            {
                break; // truncated: the field may be cut anywhere
            }

            ReadOnlySpan<byte> field = rest[..end];
            rest = rest[(end + 1)..];
            int eq = field.IndexOf((byte)'=');
            if (eq > 0)
            {
                properties[Decode(field[..eq])] = Decode(field[(eq + 1)..]);
            }
        }

        return new Uevent(action, devPath, properties);
    }

    /// <summary>Parses a datagram written as text with <c>\0</c> separators (tests, logs).</summary>
    public static Uevent? Parse(string datagram) => Parse(Encoding.UTF8.GetBytes(datagram));

    private static string Decode(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);

    private static bool IsPrintable(string s)
    {
        foreach (char c in s)
        {
            if (char.IsControl(c) || char.IsWhiteSpace(c) || c == '\uFFFD')
            {
                return false;
            }
        }

        return true;
    }
}
