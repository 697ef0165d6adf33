using System.Buffers.Text;
using System.Text;
using AiFactory.Host.Hardware.Discovery;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>
/// Parses <c>/proc/net/route</c> (IPv4 routes: Iface, Destination, Gateway, Flags, RefCnt, Use, Metric, Mask, ...,
/// hexadecimal fields) for the interface of the default route.
/// </summary>
public static class NetRouteParser
{
    private const uint RouteUp = 0x1;

    /// <summary>What one line of a route table is.</summary>
    public enum RouteLine
    {
        /// <summary>A route, but not an up default route.</summary>
        Other,

        /// <summary>An up default route.</summary>
        Default,

        /// <summary>Not a route line of this file's format: too few fields, or a field that is not a number.</summary>
        Malformed,
    }

    /// <summary>The interface of the up default route (destination and mask 0) with the lowest metric; null when none.</summary>
    public static string? DefaultRouteInterface(ReadOnlySpan<char> route)
    {
        var sink = new DefaultRouteSink(keepText: true, ipv6: false);
        ReadOnlySpan<byte> bytes = Encoding.UTF8.GetBytes(route.ToArray());
        foreach (Range line in bytes.Split((byte)'\n'))
        {
            if (!bytes[line].IsEmpty)
            {
                sink.Line(bytes[line]);
            }
        }

        return sink.Interface;
    }

    /// <summary>
    /// The interface and metric of one line of net/route when it is an up default route (destination and mask
    /// 00000000); false for any other line, the header included.
    /// </summary>
    public static bool TryParseDefaultRoute(ReadOnlySpan<byte> line, out Range iface, out long metric) =>
        ParseLine(line, out iface, out metric) == RouteLine.Default;

    /// <summary>
    /// One line of net/route after the header: <see cref="RouteLine.Default"/> with the interface and metric of an up
    /// default route (destination and mask 00000000), <see cref="RouteLine.Other"/> for another route, and
    /// <see cref="RouteLine.Malformed"/> when it has fewer than 8 fields or its destination, flags, metric or mask is
    /// not a number as the kernel prints it.
    /// </summary>
    public static RouteLine ParseLine(ReadOnlySpan<byte> line, out Range iface, out long metric)
    {
        metric = 0;
        Span<Range> f = stackalloc Range[8];
        int count = ProcfsFields.Split(line, f);

        iface = f[0];
        if (count < f.Length || !IsHex(line[f[1]], 8) || !IsHex(line[f[7]], 8) ||
            !Utf8Parser.TryParse(line[f[3]], out uint flags, out int used, 'X') || used != line[f[3]].Length ||
            line[f[6]].IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0 ||
            !Utf8Parser.TryParse(line[f[6]], out long m, out used) || used != line[f[6]].Length)
        {
            return RouteLine.Malformed;
        }

        if (!line[f[1]].SequenceEqual("00000000"u8) || !line[f[7]].SequenceEqual("00000000"u8) || (flags & RouteUp) == 0)
        {
            return RouteLine.Other;
        }

        metric = m;
        return RouteLine.Default;
    }

    /// <summary>True when <paramref name="field"/> is exactly <paramref name="length"/> hex digits.</summary>
    internal static bool IsHex(ReadOnlySpan<byte> field, int length) =>
        field.Length == length && field.IndexOfAnyExcept("0123456789abcdefABCDEF"u8) < 0;

    /// <summary>
    /// Follows the lines of net/route (<paramref name="ipv6"/> false; the first line is the header and is skipped) or
    /// net/ipv6_route (<see cref="NetIpv6RouteParser"/>) for the default route with the lowest metric (the first of
    /// equals) without allocating: keeps a hash of its interface and the count of lines that do not parse (what a
    /// rescan compares) and, with <c>keepText</c>, the name and the first <see cref="MaxKeptMalformed"/> of those lines.
    /// </summary>
    internal sealed class DefaultRouteSink(bool keepText, bool ipv6) : IProcfsLineSink
    {
        /// <summary>The most lines that do not parse kept (each becomes a warning), so that a garbled file cannot flood.</summary>
        public const int MaxKeptMalformed = 4;

        private readonly List<string>? _malformedLines = keepText ? [] : null;
        private bool _header = !ipv6;
        private long _metric = long.MaxValue;

        /// <summary>The interface of the best default route seen (only with keepText); null when none.</summary>
        public string? Interface { get; private set; }

        /// <summary>The hash of that interface's name; 0 when there is none.</summary>
        public ulong Hash { get; private set; }

        /// <summary>How many lines did not parse.</summary>
        public int Malformed { get; private set; }

        /// <summary>True for net/route when no line came at all, not even the header the kernel always prints.</summary>
        public bool Empty => _header;

        /// <summary>The first lines that did not parse, quoted for a warning (only with keepText).</summary>
        public IReadOnlyList<string> MalformedLines => _malformedLines ?? [];

        public void Reset()
        {
            (_header, _metric, Interface, Hash, Malformed) = (!ipv6, long.MaxValue, null, 0, 0);
            _malformedLines?.Clear();
        }

        public void Line(ReadOnlySpan<byte> line)
        {
            RouteLine kind;
            Range iface;
            long metric;
            if (_header)
            {
                // "Iface\tDestination\tGateway ..."; anything else in its place is reported, not taken for it.
                _header = false;
                kind = line.StartsWith("Iface"u8) ? RouteLine.Other : RouteLine.Malformed;
                (iface, metric) = (default, 0);
            }
            else
            {
                kind = ipv6 ? NetIpv6RouteParser.ParseLine(line, out iface, out metric) : ParseLine(line, out iface, out metric);
            }

            if (kind == RouteLine.Malformed)
            {
                Malformed++;
                if (_malformedLines is { Count: < MaxKeptMalformed })
                {
                    _malformedLines.Add(RawText.Quote(line));
                }
            }
            else if (kind == RouteLine.Default && metric < _metric)
            {
                _metric = metric;
                Hash = ProcfsFields.Hash(line[iface]);
                if (keepText)
                {
                    Interface = RawText.Decode(line[iface]);
                }
            }
        }
    }
}
