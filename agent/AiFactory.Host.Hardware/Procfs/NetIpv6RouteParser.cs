using System.Buffers.Text;
using static AiFactory.Host.Hardware.Procfs.NetRouteParser;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>
/// Parses <c>/proc/net/ipv6_route</c> for the interface of the IPv6 default route. No header; one route a line, ten
/// fields: destination (32 hex digits), its prefix length (2), source (32), its prefix length (2), next hop (32),
/// metric, reference count, use, flags (8 hex digits each) and the device name. The file is absent when IPv6 is
/// disabled, which is not an error.
/// </summary>
public static class NetIpv6RouteParser
{
    private const uint RouteUp = 0x0001;     // RTF_UP
    private const uint RouteReject = 0x0200; // RTF_REJECT: "unreachable", what the kernel keeps on lo for ::/0

    /// <summary>
    /// One line of ipv6_route: <see cref="RouteLine.Default"/> with the device and metric of an up default route
    /// (destination all zeros, prefix length 00) that is not a reject route and not on <c>lo</c>; <see cref="RouteLine.Other"/>
    /// for another route; <see cref="RouteLine.Malformed"/> when the line does not have the ten fields of the format.
    /// </summary>
    public static RouteLine ParseLine(ReadOnlySpan<byte> line, out Range device, out long metric)
    {
        metric = 0;
        Span<Range> f = stackalloc Range[11];
        int count = ProcfsFields.Split(line, f);

        device = f[9];
        if (count != 10 || !IsHex(line[f[0]], 32) || !IsHex(line[f[1]], 2) || !IsHex(line[f[2]], 32) || !IsHex(line[f[3]], 2) ||
            !IsHex(line[f[4]], 32) || !IsHex(line[f[5]], 8) || !IsHex(line[f[6]], 8) || !IsHex(line[f[7]], 8) || !IsHex(line[f[8]], 8) ||
            !Utf8Parser.TryParse(line[f[5]], out uint m, out _, 'X') || !Utf8Parser.TryParse(line[f[8]], out uint flags, out _, 'X'))
        {
            return RouteLine.Malformed;
        }

        if (line[f[0]].IndexOfAnyExcept((byte)'0') >= 0 || !line[f[1]].SequenceEqual("00"u8) ||
            (flags & RouteUp) == 0 || (flags & RouteReject) != 0 || line[f[9]].SequenceEqual("lo"u8))
        {
            return RouteLine.Other;
        }

        metric = m;
        return RouteLine.Default;
    }

    /// <summary>The device of the IPv6 default route with the lowest metric in <paramref name="ipv6Route"/>; null when none.</summary>
    public static string? DefaultRouteInterface(ReadOnlySpan<char> ipv6Route)
    {
        var sink = new DefaultRouteSink(keepText: true, ipv6: true);
        ReadOnlySpan<byte> bytes = System.Text.Encoding.UTF8.GetBytes(ipv6Route.ToArray());
        foreach (Range line in bytes.Split((byte)'\n'))
        {
            if (!bytes[line].IsEmpty)
            {
                sink.Line(bytes[line]);
            }
        }

        return sink.Interface;
    }
}
