using System.Globalization;
using System.Text;

namespace AiFactory.Host.Model.Text;

/// <summary>Text from outside (a sysfs attribute, a YAML key) made safe for one line of a log, an error or a status.</summary>
public static class ControlCharacters
{
    /// <summary>
    /// <paramref name="text"/> with every control character (C0, DEL, C1) written as <c>\xNN</c>, so it stays one
    /// line and prints nothing invisible; U+FFFD, where a decoder already lost a byte, stays as it is. The same string
    /// when there is none.
    /// </summary>
    public static string Escape(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\0', '\x1f') && !text.AsSpan().ContainsAnyInRange('\x7f', '\x9f'))
        {
            return text;
        }

        var escaped = new StringBuilder(text.Length + 16);
        foreach (char c in text)
        {
            if (c < 0x20 || c is >= '\x7f' and <= '\x9f')
            {
                escaped.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
    }
}
