using System.Text;
using AiFactory.Host.Hardware.Procfs;
using static AiFactory.Host.Hardware.Procfs.NetRouteParser;

namespace AiFactory.Host.Hardware.Tests.Procfs;

/// <summary>The route tables host-needed detection reads, parsed from inline lines: net/route (IPv4) and net/ipv6_route.</summary>
public sealed class NetRouteParserTests
{
    private const string Zero32 = "00000000000000000000000000000000";
    private const string Gateway = "fe800000000000000000000000000001";

    [Theory]
    [InlineData(Zero32 + " 00 " + Zero32 + " 00 " + Gateway + " 00000400 00000001 00000000 00000003     eth0", RouteLine.Default, "eth0", 0x400L)]
    [InlineData(Zero32 + " 00 " + Zero32 + " 00 " + Zero32 + " ffffffff 00000001 00000000 00200200       lo", RouteLine.Other, null, 0L)] // the kernel's unreachable ::/0 on lo
    [InlineData(Zero32 + " 00 " + Zero32 + " 00 " + Zero32 + " 00000400 00000001 00000000 00000201     eth0", RouteLine.Other, null, 0L)] // RTF_REJECT
    [InlineData(Zero32 + " 00 " + Zero32 + " 00 " + Gateway + " 00000400 00000001 00000000 00000003       lo", RouteLine.Other, null, 0L)] // on lo
    [InlineData(Zero32 + " 00 " + Zero32 + " 00 " + Gateway + " 00000400 00000001 00000000 00000002     eth0", RouteLine.Other, null, 0L)] // not up
    [InlineData("fe800000000000000000000000000000 40 " + Zero32 + " 00 " + Zero32 + " 00000100 00000001 00000000 00000001     eth0", RouteLine.Other, null, 0L)] // fe80::/64
    [InlineData("20010db8000000000000000000000000 00 " + Zero32 + " 00 " + Zero32 + " 00000100 00000001 00000000 00000001     eth0", RouteLine.Other, null, 0L)] // not all zeros
    [InlineData(Zero32 + " 00 " + Zero32 + " 00 " + Gateway + " 00000400 00000001 00000000 00000003", RouteLine.Malformed, null, 0L)] // no device
    [InlineData(Zero32 + " 00 " + Zero32 + " 00 " + Gateway + " 0000040z 00000001 00000000 00000003 eth0", RouteLine.Malformed, null, 0L)]
    [InlineData("0000 00 " + Zero32 + " 00 " + Gateway + " 00000400 00000001 00000000 00000003 eth0", RouteLine.Malformed, null, 0L)]
    [InlineData(Zero32 + " 00 " + Zero32 + " 00 " + Gateway + " 00000400 00000001 00000000 00000003 eth0 extra", RouteLine.Malformed, null, 0L)]
    [InlineData("garbage", RouteLine.Malformed, null, 0L)]
    [InlineData("", RouteLine.Malformed, null, 0L)]
    public void An_ipv6_route_line_is_a_default_route_only_for_all_zeros_slash_0_up_and_not_a_reject_route_or_on_lo(string line, RouteLine expected, string? device, long metric)
    {
        byte[] raw = Encoding.UTF8.GetBytes(line);

        RouteLine kind = NetIpv6RouteParser.ParseLine(raw, out Range field, out long m);

        Assert.Equal(expected, kind);
        Assert.Equal(device, kind == RouteLine.Default ? Encoding.UTF8.GetString(raw.AsSpan()[field]) : null);
        Assert.Equal(metric, kind == RouteLine.Default ? m : 0);
    }

    [Fact]
    public void The_ipv6_default_route_with_the_lowest_metric_wins()
    {
        string table =
            Zero32 + " 00 " + Zero32 + " 00 " + Gateway + " 00000400 00000001 00000000 00000003     eth1\n" +
            Zero32 + " 00 " + Zero32 + " 00 " + Gateway + " 00000100 00000001 00000000 00000003     eth0\n" +
            Zero32 + " 00 " + Zero32 + " 00 " + Zero32 + " ffffffff 00000001 00000000 00200200       lo\n";

        Assert.Equal("eth0", NetIpv6RouteParser.DefaultRouteInterface(table));
        Assert.Null(NetIpv6RouteParser.DefaultRouteInterface(string.Empty));
    }

    [Theory]
    [InlineData("eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0", RouteLine.Default)]
    [InlineData("eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0", RouteLine.Other)]
    [InlineData("eth0\t00000000\t0100000A\tzz\t0\t0\t100\t00000000", RouteLine.Malformed)]
    [InlineData("eth0\t00000000\t0100000A\t0003\t0\t0\t-1\t00000000", RouteLine.Malformed)]
    [InlineData("eth0\t00000000\t0100000A\t0003\t0\t0\t100", RouteLine.Malformed)]
    [InlineData("eth0\t0000\t0100000A\t0003\t0\t0\t100\t00000000", RouteLine.Malformed)]
    [InlineData("\u0001\u00ff garbage", RouteLine.Malformed)]
    public void An_ipv4_route_line_that_is_not_the_kernels_format_is_malformed_not_just_no_default(string line, RouteLine expected)
    {
        Assert.Equal(expected, NetRouteParser.ParseLine(Encoding.Latin1.GetBytes(line), out _, out _));
    }

    [Fact]
    public void Lines_that_do_not_parse_are_counted_and_the_first_are_kept_quoted_with_bytes_escaped()
    {
        var sink = new DefaultRouteSink(keepText: true, ipv6: false);

        sink.Line("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"u8);
        sink.Line("eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0"u8);
        for (int i = 0; i < 6; i++)
        {
            sink.Line([0x1b, (byte)'[', (byte)'2', (byte)'J', 0xff, (byte)' ', (byte)'x']);
        }

        Assert.Equal("eth0", sink.Interface);
        Assert.Equal(6, sink.Malformed);
        Assert.Equal(DefaultRouteSink.MaxKeptMalformed, sink.MalformedLines.Count);
        Assert.Equal("\\x1b[2J\\xff x", sink.MalformedLines[0]);
    }

    [Fact]
    public void A_first_line_that_is_not_the_header_is_reported_not_skipped_silently()
    {
        var sink = new DefaultRouteSink(keepText: true, ipv6: false);

        sink.Line("eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0"u8);

        Assert.Equal(1, sink.Malformed);
        Assert.False(sink.Empty);
    }
}
