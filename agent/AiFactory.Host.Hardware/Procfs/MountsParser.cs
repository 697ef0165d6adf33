using System.Text;

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
        var sink = new RootMountSink(keepText: true);
        ReadOnlySpan<byte> bytes = Encoding.UTF8.GetBytes(mounts.ToArray());
        foreach (Range line in bytes.Split((byte)'\n'))
        {
            sink.Line(bytes[line]);
        }

        return sink.Device;
    }

    /// <summary>
    /// The still escaped device field of one line of mounts when it is a mount on <c>/</c> and not the initramfs
    /// <c>rootfs</c>; false for any other line.
    /// </summary>
    public static bool TryParseRootMount(ReadOnlySpan<byte> line, out Range device)
    {
        device = default;
        int position = 0;
        if (!ProcfsFields.Next(line, ref position, out Range first) || !ProcfsFields.Next(line, ref position, out Range mountPoint))
        {
            return false;
        }

        if (line[mountPoint] is [(byte)'/'] && !line[first].SequenceEqual("rootfs"u8))
        {
            device = first;
            return true;
        }

        return false;
    }

    /// <summary>The device field decoded: UTF-8, with octal escapes (<c>\040</c>) turned back into their characters.</summary>
    public static string Decode(ReadOnlySpan<byte> field)
    {
        string text = Encoding.UTF8.GetString(field);
        if (!text.Contains('\\', StringComparison.Ordinal))
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 3 < text.Length && IsOctal(text[i + 1]) && IsOctal(text[i + 2]) && IsOctal(text[i + 3]))
            {
                result.Append((char)(((text[i + 1] - '0') << 6) | ((text[i + 2] - '0') << 3) | (text[i + 3] - '0')));
                i += 3;
            }
            else
            {
                result.Append(text[i]);
            }
        }

        return result.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';

    /// <summary>
    /// Follows the lines of mounts for the last root mount without allocating: keeps a hash of its device field (what
    /// a rescan compares) and, with <c>keepText</c>, the decoded device.
    /// </summary>
    internal sealed class RootMountSink(bool keepText) : IProcfsLineSink
    {
        /// <summary>The decoded device of the last root mount seen (only with keepText); null when none.</summary>
        public string? Device { get; private set; }

        /// <summary>Whether a root mount was seen and the hash of its device field; 0 when none was.</summary>
        public ulong Hash { get; private set; }

        public void Reset()
        {
            Device = null;
            Hash = 0;
        }

        public void Line(ReadOnlySpan<byte> line)
        {
            if (TryParseRootMount(line, out Range device))
            {
                Hash = ProcfsFields.Hash(line[device]);
                if (keepText)
                {
                    Device = Decode(line[device]);
                }
            }
        }
    }
}
