using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace AiFactory.Host.Model.Pci;

/// <summary>
/// A PCI function address in the kernel's form <c>dddd:bb:dd.f</c> (domain, bus, device, function), e.g. <c>0000:41:00.0</c>.
/// The domain has at least four hex digits and more when it needs them: Intel VMD puts its NVMe drives in domains from
/// <c>10000</c> (<c>10000:01:00.0</c>), so 4 to 8 digits are accepted, up to <see cref="MaxDomain"/> (the kernel's domain
/// is an <c>int</c>). Parsing is strict: anything else (a path, "../", extra characters) is refused, so an address is
/// always safe to use as a sysfs directory name.
/// </summary>
public readonly record struct PciAddress(int Domain, byte Bus, byte Device, byte Function) : IComparable<PciAddress>
{
    /// <summary>Parses <c>dddd:bb:dd.f</c> or the short <c>bb:dd.f</c> (domain 0). Throws <see cref="FormatException"/> naming the value.</summary>
    public static PciAddress Parse(string value) =>
        TryParse(value, out PciAddress address)
            ? address
            : throw new FormatException($"invalid PCI address \"{value}\": expected dddd:bb:dd.f, e.g. 0000:41:00.0");

    /// <summary>The largest domain accepted: the kernel numbers domains with an <c>int</c>.</summary>
    public const int MaxDomain = int.MaxValue;

    /// <summary>Parses <c>dddd:bb:dd.f</c> (4 to 8 domain digits) or <c>bb:dd.f</c>; false for anything else.</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out PciAddress address)
    {
        address = default;
        if (value is null)
        {
            return false;
        }

        ReadOnlySpan<char> s = value.AsSpan();
        int domain = 0;
        if (s.Length is >= 12 and <= 16)
        {
            int digits = s.Length - 8;
            if (s[digits] != ':' || !TryHex(s[..digits], out domain))
            {
                return false;
            }

            s = s[(digits + 1)..];
        }

        if (s.Length != 7 || s[2] != ':' || s[5] != '.')
        {
            return false;
        }

        if (!TryHex(s[..2], out int bus) || !TryHex(s[3..5], out int device) || !TryHex(s[6..7], out int function))
        {
            return false;
        }

        if (device > 0x1f || function > 7)
        {
            return false;
        }

        address = new PciAddress(domain, (byte)bus, (byte)device, (byte)function);
        return true;
    }

    private static bool TryHex(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        foreach (char c in s)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        // Parsed as unsigned: "ffffffff" as an int would be -1.
        if (!uint.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint v) || v > MaxDomain)
        {
            return false;
        }

        value = (int)v;
        return true;
    }

    /// <summary>The kernel's form, lower-case hex: <c>0000:41:00.0</c>, <c>10000:01:00.0</c> (at least four domain digits).</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Domain:x4}:{Bus:x2}:{Device:x2}.{Function:x1}");

    /// <summary>NVML's bus id form, <c>00000000:41:00.0</c> (8-digit domain, upper-case hex).</summary>
    public string ToNvmlBusId() =>
        string.Create(CultureInfo.InvariantCulture, $"{Domain:X8}:{Bus:X2}:{Device:X2}.{Function:X1}");

    /// <summary>Parses NVML's bus id (<c>00000000:41:00.0</c>, any case).</summary>
    public static bool TryParseNvmlBusId(string? value, out PciAddress address)
    {
        address = default;
        if (value is null || value.Length != 16 || value[8] != ':')
        {
            return false;
        }

        if (!TryHex(value.AsSpan(0, 8), out int domain))
        {
            return false;
        }

        if (!TryParse(value[9..], out PciAddress rest))
        {
            return false;
        }

        address = rest with { Domain = domain };
        return true;
    }

    /// <inheritdoc />
    public int CompareTo(PciAddress other)
    {
        int c = Domain.CompareTo(other.Domain);
        if (c != 0)
        {
            return c;
        }

        c = Bus.CompareTo(other.Bus);
        if (c != 0)
        {
            return c;
        }

        c = Device.CompareTo(other.Device);
        return c != 0 ? c : Function.CompareTo(other.Function);
    }
}
