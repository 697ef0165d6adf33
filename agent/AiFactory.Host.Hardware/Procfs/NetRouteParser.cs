using System.Buffers.Text;
using System.Text;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>
/// Parses <c>/proc/net/route</c> (IPv4 routes: Iface, Destination, Gateway, Flags, RefCnt, Use, Metric, Mask, ...,
/// hexadecimal fields) for the interface of the default route.
/// </summary>
public static class NetRouteParser
{
    private const uint RouteUp = 0x1;

    /// <summary>The interface of the up default route (destination and mask 0) with the lowest metric; null when none.</summary>
    public static string? DefaultRouteInterface(ReadOnlySpan<char> route)
    {
        var sink = new DefaultRouteSink(keepText: true);
        ReadOnlySpan<byte> bytes = Encoding.UTF8.GetBytes(route.ToArray());
        foreach (Range line in bytes.Split((byte)'\n'))
        {
            sink.Line(bytes[line]);
        }

        return sink.Interface;
    }

    /// <summary>
    /// The interface and metric of one line of net/route when it is an up default route (destination and mask
    /// 00000000); false for any other line, the header included.
    /// </summary>
    public static bool TryParseDefaultRoute(ReadOnlySpan<byte> line, out Range iface, out long metric)
    {
        metric = 0;
        int position = 0;
        Span<Range> f = stackalloc Range[8];
        int count = 0;
        while (count < f.Length && ProcfsFields.Next(line, ref position, out f[count]))
        {
            count++;
        }

        iface = f[0];
        return count == f.Length &&
            line[f[1]].SequenceEqual("00000000"u8) && line[f[7]].SequenceEqual("00000000"u8) &&
            Utf8Parser.TryParse(line[f[3]], out uint flags, out int used, 'X') && used == line[f[3]].Length && (flags & RouteUp) != 0 &&
            line[f[6]].IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0 &&
            Utf8Parser.TryParse(line[f[6]], out metric, out used) && used == line[f[6]].Length;
    }

    /// <summary>
    /// Follows the lines of net/route for the default route with the lowest metric (the first of equals) without
    /// allocating: keeps a hash of its interface (what a rescan compares) and, with <c>keepText</c>, the name.
    /// The first line is the header and is skipped.
    /// </summary>
    internal sealed class DefaultRouteSink(bool keepText) : IProcfsLineSink
    {
        private bool _header = true;
        private long _metric = long.MaxValue;

        /// <summary>The interface of the best default route seen (only with keepText); null when none.</summary>
        public string? Interface { get; private set; }

        /// <summary>The hash of that interface's name; 0 when there is none.</summary>
        public ulong Hash { get; private set; }

        public void Reset()
        {
            (_header, _metric, Interface, Hash) = (true, long.MaxValue, null, 0);
        }

        public void Line(ReadOnlySpan<byte> line)
        {
            if (_header)
            {
                _header = false;
                return;
            }

            if (TryParseDefaultRoute(line, out Range iface, out long metric) && metric < _metric)
            {
                _metric = metric;
                Hash = ProcfsFields.Hash(line[iface]);
                if (keepText)
                {
                    Interface = Encoding.UTF8.GetString(line[iface]);
                }
            }
        }
    }
}
