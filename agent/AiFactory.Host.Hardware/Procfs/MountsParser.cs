namespace AiFactory.Host.Hardware.Procfs;

/// <summary>
/// Parses <c>/proc/self/mounts</c> (fstab format: device, mount point, type, options, dump, pass) for the device
/// mounted on <c>/</c>. Octal escapes (<c>\040</c>) in the device are decoded.
/// </summary>
public static class MountsParser
{
    /// <summary>The source of the last mount on <c>/</c> (later mounts hide earlier ones), skipping the initramfs
    /// <c>rootfs</c>; null when none names a device.</summary>
    public static string? RootDevice(ReadOnlySpan<char> mounts)
    {
        string? device = null;
        foreach (Range line in mounts.Split('\n'))
        {
            ReadOnlySpan<char> text = mounts[line].Trim();
            int sp = text.IndexOf(' ');
            if (sp <= 0)
            {
                continue;
            }

            ReadOnlySpan<char> rest = text[(sp + 1)..];
            int sp2 = rest.IndexOf(' ');
            ReadOnlySpan<char> mountPoint = sp2 < 0 ? rest : rest[..sp2];
            if (mountPoint is "/" && text[..sp] is not "rootfs")
            {
                device = Unescape(text[..sp]);
            }
        }

        return device;
    }

    private static string Unescape(ReadOnlySpan<char> field)
    {
        if (!field.Contains('\\'))
        {
            return field.ToString();
        }

        var text = new System.Text.StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                text.Append((char)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }

        return text.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
