using System.Globalization;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>
/// Parses <c>/proc/net/route</c> (IPv4 routes: Iface, Destination, Gateway, Flags, RefCnt, Use, Metric, Mask, ...,
/// hexadecimal fields) for the interface of the default route.
/// </summary>
public static class NetRouteParser
{
    private const int RouteUp = 0x1;

    /// <summary>The interface of the up default route (destination and mask 0) with the lowest metric; null when none.</summary>
    public static string? DefaultRouteInterface(ReadOnlySpan<char> route)
    {
        string? best = null;
        long bestMetric = long.MaxValue;
        bool header = true;
        foreach (Range line in route.Split('\n'))
        {
            if (header)
            {
                header = false;
                continue;
            }

            string[] f = route[line].ToString().Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 8 ||
                !uint.TryParse(f[3], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint flags) ||
                !long.TryParse(f[6], NumberStyles.None, CultureInfo.InvariantCulture, out long metric))
            {
                continue;
            }

            if (f[1] == "00000000" && f[7] == "00000000" && (flags & RouteUp) != 0 && metric < bestMetric)
            {
                best = f[0];
                bestMetric = metric;
            }
        }

        return best;
    }
}
