using System.Text;

namespace AiFactory.Grpc.Protocol;

/// <summary>
/// Percent-encoding of <c>grpc-message</c> exactly as the spec says: the UTF-8 bytes outside 0x20–0x7E, and '%',
/// become %XX; everything else stays as it is. (Uri.EscapeDataString is wrong: it also escapes ':' and '/', which
/// grpc-js leaves undecoded.)
/// </summary>
public static class GrpcMessageEncoding
{
    /// <summary>
    /// The most UTF-8 bytes of a status message a server sends (3 KiB at worst once percent-encoded). A message often
    /// echoes what the client sent (a service name, a path); grpc-js drops a call whose <c>grpc-message</c> passes
    /// about 64 KiB, and a header block that large costs the server a CONTINUATION frame per 16 KiB.
    /// </summary>
    public const int MaxMessageBytes = 1024;

    /// <summary>
    /// <paramref name="message"/> cut to at most <paramref name="maxBytes"/> UTF-8 bytes at a character boundary,
    /// ending with "…" when it was cut; as it is when it fits.
    /// </summary>
    public static string Truncate(string message, int maxBytes = MaxMessageBytes)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, Ellipsis.Length * 3);

        // A UTF-16 char is at most 3 UTF-8 bytes (a surrogate pair, two chars, is 4).
        if (message.Length <= maxBytes / 3 || Encoding.UTF8.GetByteCount(message) <= maxBytes)
        {
            return message;
        }

        int budget = maxBytes - Encoding.UTF8.GetByteCount(Ellipsis);
        int bytes = 0;
        int chars = 0;
        foreach (Rune rune in message.EnumerateRunes())
        {
            // A lone surrogate enumerates as U+FFFD, which is also what the UTF-8 encoder writes for it: 3 bytes.
            bytes += rune.Utf8SequenceLength;
            if (bytes > budget)
            {
                break;
            }

            chars += rune.Utf16SequenceLength;
        }

        return string.Concat(message.AsSpan(0, chars), Ellipsis);
    }

    private const string Ellipsis = "\u2026";

    /// <summary>Encodes <paramref name="message"/> for the <c>grpc-message</c> header.</summary>
    public static string Encode(string message)
    {
        bool plain = true;
        foreach (char c in message)
        {
            if (c < 0x20 || c > 0x7E || c == '%')
            {
                plain = false;
                break;
            }
        }

        if (plain)
        {
            return message;
        }

        byte[] bytes = Encoding.UTF8.GetBytes(message);
        var sb = new StringBuilder(bytes.Length * 2);
        foreach (byte b in bytes)
        {
            if (b < 0x20 || b > 0x7E || b == (byte)'%')
            {
                sb.Append('%').Append(HexUpper[b >> 4]).Append(HexUpper[b & 0xF]);
            }
            else
            {
                sb.Append((char)b);
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// Decodes a <c>grpc-message</c> value. A '%' not followed by two hex digits is kept literally, as the spec asks
    /// of receivers ("should not fail"); the bytes are then read as UTF-8, invalid sequences becoming U+FFFD.
    /// </summary>
    public static string Decode(string value)
    {
        if (value.IndexOf('%') < 0)
        {
            return value;
        }

        var bytes = new List<byte>(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '%' && i + 2 < value.Length && IsHex(value[i + 1]) && IsHex(value[i + 2]))
            {
                bytes.Add((byte)((HexValue(value[i + 1]) << 4) | HexValue(value[i + 2])));
                i += 2;
            }
            else if (c < 0x80)
            {
                bytes.Add((byte)c);
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private const string HexUpper = "0123456789ABCDEF";

    private static bool IsHex(char c) => c is (>= '0' and <= '9') or (>= 'a' and <= 'f') or (>= 'A' and <= 'F');

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        _ => c - 'A' + 10,
    };
}
