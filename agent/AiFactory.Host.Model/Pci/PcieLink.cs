namespace AiFactory.Host.Model.Pci;

/// <summary>
/// The PCIe link of a device: <c>current_link_speed</c>/<c>max_link_speed</c>, <c>current_link_width</c>/<c>max_link_width</c>,
/// and what the port above it supports (that port's <c>max_link_speed</c>/<c>max_link_width</c>), set by discovery.
/// </summary>
public sealed record PcieLink(double? CurrentSpeedGts, double? MaxSpeedGts, int? CurrentWidth, int? MaxWidth)
{
    /// <summary>The upstream port's <c>max_link_speed</c> (the bridge above the device); null when unknown or none.</summary>
    public double? PortMaxSpeedGts { get; init; }

    /// <summary>The upstream port's <c>max_link_width</c>; null when unknown or none.</summary>
    public int? PortMaxWidth { get; init; }

    /// <summary>The fastest the link can train: min(device maximum, port maximum), either when the other is unknown.</summary>
    public double? CapableSpeedGts => Min(MaxSpeedGts, PortMaxSpeedGts);

    /// <summary>The widest the link can train: min(device maximum, port maximum), either when the other is unknown.</summary>
    public int? CapableWidth => Min(MaxWidth, PortMaxWidth);

    /// <summary>Fewer lanes now than both ends support.</summary>
    public bool IsWidthReduced => CurrentWidth is { } now && CapableWidth is { } capable && now < capable;

    /// <summary>
    /// Slower now than both ends support. A fault on most devices, but normal power management on a GPU, which drops
    /// to a lower PCIe generation while idle (see <see cref="PciDevice.LowersLinkSpeedWhenIdle"/>).
    /// </summary>
    public bool IsSpeedReduced => CurrentSpeedGts is { } now && CapableSpeedGts is { } capable && now < capable;

    private static T? Min<T>(T? a, T? b)
        where T : struct, IComparable<T> =>
        a is { } x && b is { } y ? (x.CompareTo(y) <= 0 ? x : y) : a ?? b;
}
