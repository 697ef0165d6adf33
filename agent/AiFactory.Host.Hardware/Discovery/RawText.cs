using System.Globalization;
using System.Text;
using System.Text.Unicode;
using AiFactory.Host.Model.Text;

namespace AiFactory.Host.Hardware.Discovery;

/// <summary>
/// Raw kernel file content made fit to quote in a warning (which reaches logs, stderr and JSON): control characters
/// and bytes that are not UTF-8 written as <c>\xNN</c>, and at most <see cref="MaxQuoted"/> characters, then "…".
/// </summary>
internal static class RawText
{
    /// <summary>The most characters of a raw value a warning quotes.</summary>
    public const int MaxQuoted = 80;

    /// <summary>
    /// <paramref name="bytes"/> as text: UTF-8 as it is; each byte that is not part of valid UTF-8 as the four
    /// characters <c>\xNN</c> (rather than U+FFFD, which would hide what the file held). Control characters are kept
    /// (a value's own newlines and tabs); <see cref="Quote(string)"/> makes them visible.
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes))
        {
            return Encoding.UTF8.GetString(bytes);
        }

        var text = new StringBuilder(bytes.Length + 16);
        Span<char> chars = stackalloc char[2];
        while (!bytes.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes, out Rune rune, out int used) == System.Buffers.OperationStatus.Done)
            {
                text.Append(chars[..rune.EncodeToUtf16(chars)]);
            }
            else
            {
                // One byte at a time: the next may start a valid sequence.
                used = 1;
                text.Append(CultureInfo.InvariantCulture, $"\\x{bytes[0]:x2}");
            }

            bytes = bytes[used..];
        }

        return text.ToString();
    }

    /// <summary>The first bytes of <paramref name="bytes"/> (at most <see cref="MaxQuoted"/> of them) decoded and quoted.</summary>
    public static string Quote(ReadOnlySpan<byte> bytes)
    {
        string quoted = Quote(Decode(bytes[..Math.Min(bytes.Length, MaxQuoted)]));
        return bytes.Length > MaxQuoted && !quoted.EndsWith('…') ? quoted + "…" : quoted;
    }

    /// <summary>
    /// <paramref name="raw"/> cut to <see cref="MaxQuoted"/> characters (then "…") with every control character
    /// (C0, DEL, C1) written as <c>\xNN</c>; U+FFFD, where a decoder already lost a byte, stays as it is.
    /// </summary>
    public static string Quote(string raw) => ControlCharacters.Escape(raw.Length > MaxQuoted ? raw[..MaxQuoted] + "…" : raw);
}
