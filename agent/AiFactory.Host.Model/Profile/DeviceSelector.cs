using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Profile;

/// <summary>
/// Picks PCI functions in a profile: an address (<c>0000:41:00.0</c>), vendor:device ids (<c>10de:2330</c>),
/// a class prefix (<c>class:0302</c> or <c>class:03</c>), or <c>nvidia-gpus</c> (every NVIDIA GPU).
/// </summary>
public sealed record DeviceSelector
{
    private DeviceSelector(string text) => Text = text;

    /// <summary>The selector as written.</summary>
    public string Text { get; }

    /// <summary>The address, for an address selector.</summary>
    public PciAddress? Address { get; private init; }

    /// <summary>The vendor id, for a vendor:device selector.</summary>
    public ushort? VendorId { get; private init; }

    /// <summary>The device id, for a vendor:device selector.</summary>
    public ushort? DeviceId { get; private init; }

    /// <summary>The class prefix (2, 4 or 6 hex digits) for a class selector.</summary>
    public string? ClassPrefix { get; private init; }

    /// <summary>True for <c>nvidia-gpus</c>.</summary>
    public bool AllNvidiaGpus { get; private init; }

    /// <summary>Parses a selector; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out DeviceSelector? selector, [NotNullWhen(false)] out string? error)
    {
        selector = null;
        error = null;
        string t = text.Trim();
        if (PciAddress.TryParse(t, out PciAddress address))
        {
            selector = new DeviceSelector(t) { Address = address };
            return true;
        }

        if (t is "nvidia-gpus")
        {
            selector = new DeviceSelector(t) { AllNvidiaGpus = true };
            return true;
        }

        if (t.StartsWith("class:", StringComparison.Ordinal))
        {
            string prefix = t[6..].ToLowerInvariant();
            if (prefix.StartsWith("0x", StringComparison.Ordinal))
            {
                prefix = prefix[2..];
            }

            if (prefix.Length is 2 or 4 or 6 && prefix.All(char.IsAsciiHexDigit))
            {
                selector = new DeviceSelector(t) { ClassPrefix = prefix };
                return true;
            }

            error = $"\"{t}\": a class is 2, 4 or 6 hex digits (class:03, class:0302)";
            return false;
        }

        string[] parts = t.Split(':');
        if (parts.Length == 2 && parts[0].Length == 4 && parts[1].Length == 4 &&
            ushort.TryParse(parts[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort vendor) &&
            ushort.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort device))
        {
            selector = new DeviceSelector(t) { VendorId = vendor, DeviceId = device };
            return true;
        }

        error = $"\"{t}\" is not a device selector: use an address (0000:41:00.0), vendor:device (10de:2330), class:0302 or nvidia-gpus";
        return false;
    }

    /// <summary>True when <paramref name="device"/> is picked by this selector.</summary>
    public bool Matches(PciDevice device)
    {
        if (Address is { } a)
        {
            return device.Address == a;
        }

        if (AllNvidiaGpus)
        {
            return device.VendorId == 0x10de && (device.Kind == DeviceKind.Gpu || device.BaseClass == 0x03);
        }

        if (ClassPrefix is { } prefix)
        {
            return device.ClassCode.ToString("x6", CultureInfo.InvariantCulture).StartsWith(prefix, StringComparison.Ordinal);
        }

        return device.VendorId == VendorId && device.DeviceId == DeviceId;
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}
