using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;

namespace AiFactory.Host.Hardware.Tests.Sysfs;

public sealed class AttributeParsersTests
{
    [Theory]
    [InlineData("0x10de", 0x10de)]
    [InlineData("0x15B3\n", 0x15b3)]
    [InlineData("10de", 0x10de)]
    public void Hex_ids_parse_with_or_without_prefix(string raw, int expected)
    {
        Assert.True(AttributeParsers.TryParseHexId(raw, out ushort id, out _));
        Assert.Equal(expected, id);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0x")]
    [InlineData("0x10de0")]
    [InlineData("nvidia")]
    [InlineData("0x-1")]
    public void Garbage_hex_ids_are_refused_and_the_error_quotes_the_value(string raw)
    {
        Assert.False(AttributeParsers.TryParseHexId(raw, out _, out string? error));
        Assert.Contains("\"" + raw + "\"", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1", null)]
    [InlineData("0", 0)]
    [InlineData("7\n", 7)]
    public void Numa_node_minus_one_means_unknown_not_node_zero(string raw, int? expected)
    {
        Assert.True(AttributeParsers.TryParseNumaNode(raw, out int? node, out _));
        Assert.Equal(expected, node);
    }

    [Theory]
    [InlineData("-2")]
    [InlineData("99999999999999999999")]
    [InlineData("one")]
    [InlineData("")]
    public void Absurd_numa_nodes_are_errors(string raw) =>
        Assert.False(AttributeParsers.TryParseNumaNode(raw, out _, out _));

    [Theory]
    [InlineData("32.0 GT/s PCIe", 32.0)]
    [InlineData("2.5 GT/s", 2.5)]
    [InlineData("8 GT/s", 8.0)]
    public void Link_speeds_parse_in_gts(string raw, double expected)
    {
        Assert.True(AttributeParsers.TryParseLinkSpeed(raw, out double? gts, out _));
        Assert.Equal(expected, gts);
    }

    [Fact]
    public void An_unknown_link_speed_is_null_without_an_error()
    {
        Assert.True(AttributeParsers.TryParseLinkSpeed("Unknown", out double? gts, out string? error));
        Assert.Null(gts);
        Assert.Null(error);
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("32.0 Gb/s")]
    [InlineData("-8 GT/s")]
    public void Garbage_link_speeds_are_errors(string raw) =>
        Assert.False(AttributeParsers.TryParseLinkSpeed(raw, out _, out _));

    [Fact]
    public void Node_meminfo_gives_total_and_free_in_bytes()
    {
        const string raw = "Node 0 MemTotal:       1056457432 kB\nNode 0 MemFree:        1000000000 kB\nNode 0 MemUsed:         56457432 kB\n";

        Assert.True(NodeReader.TryParseMeminfo(raw, out long total, out long free, out _));
        Assert.Equal(1056457432L * 1024, total);
        Assert.Equal(1000000000L * 1024, free);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Node 0 MemFree: 12 kB\n")]
    [InlineData("Node 0 MemTotal: lots kB\n")]
    public void Node_meminfo_without_a_parsable_total_is_an_error(string raw) =>
        Assert.False(NodeReader.TryParseMeminfo(raw, out _, out _, out _));

    [Fact]
    public void Distances_parse_as_a_slit_row()
    {
        Assert.True(NodeReader.TryParseDistance("10 21\n", out int[]? d, out _));
        Assert.Equal([10, 21], d);
        Assert.False(NodeReader.TryParseDistance("10 5", out _, out string? error));
        Assert.Contains("\"5\"", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Topology_id_minus_one_is_unknown()
    {
        Assert.True(CpuReader.TryParseTopologyId("-1", out int? id, out _));
        Assert.Null(id);
        Assert.False(CpuReader.TryParseTopologyId("x", out _, out _));
    }

    [Fact]
    public void Reset_methods_and_driver_override_parse()
    {
        Assert.Equal(["flr", "bus"], PciDeviceReader.ParseResetMethods("flr bus"));
        Assert.Empty(PciDeviceReader.ParseResetMethods(""));
        Assert.Null(PciDeviceReader.ParseDriverOverride("(null)"));
        Assert.Equal("vfio-pci", PciDeviceReader.ParseDriverOverride("vfio-pci"));
    }

    [Fact]
    public void Upstream_bridges_come_from_the_real_device_path_nearest_first()
    {
        var bridges = PciDeviceReader.ParseUpstreamBridges("devices/pci0000:15/0000:15:01.0/0000:16:00.0/0000:17:00.0/0000:18:00.0", Model.Pci.PciAddress.Parse("0000:18:00.0"));

        Assert.Equal(["0000:17:00.0", "0000:16:00.0", "0000:15:01.0"], bridges.Select(b => b.ToString()));
    }

    [Fact]
    public void Hugepage_directories_name_their_size()
    {
        Assert.True(HugepagesReader.TryParseSizeDirectory("hugepages-1048576kB", out long kib));
        Assert.Equal(1048576, kib);
        Assert.False(HugepagesReader.TryParseSizeDirectory("hugepages-kB", out _));
        Assert.False(HugepagesReader.TryParseSizeDirectory("hugepages-2048MB", out _));
    }

    [Fact]
    public void Proc_meminfo_and_cmdline_parse()
    {
        Assert.True(MeminfoReader.TryParseField("MemTotal:       2113349080 kB\nMemFree: 1 kB\n", "MemTotal", out long kib));
        Assert.Equal(2113349080, kib);
        Assert.False(MeminfoReader.TryParseField("MemFree: 1 kB\n", "MemTotal", out _));
        Assert.Equal("on", CmdlineReader.Parameter("ro intel_iommu=on iommu=pt", "intel_iommu"));
        Assert.Null(CmdlineReader.Parameter("ro", "intel_iommu"));
    }

    [Theory]
    [InlineData("MemTotal:       2113349080 kB\nMemFree: 1 kB\n", 2113349080L)]
    [InlineData("MemFree: 1 kB\nMemTotal: 7 kB", 7L)]
    [InlineData("MemFree: 1 kB\n", null)]
    [InlineData("MemTotal: -5 kB\n", null)]
    [InlineData("MemTotal: +5 kB\n", null)]
    [InlineData("MemTotal: banana kB\n", null)]
    [InlineData("MemTotal: 99999999999999999999 kB\n", null)]
    [InlineData("", null)]
    public void Proc_meminfo_mem_total_parses_from_bytes_as_from_text(string raw, long? expected)
    {
        bool parsed = MeminfoReader.TryParseMemTotal(System.Text.Encoding.UTF8.GetBytes(raw), out long kib);

        Assert.Equal(expected, parsed ? kib : (long?)null);
        Assert.Equal(MeminfoReader.TryParseField(raw, "MemTotal", out long text) ? text : (long?)null, parsed ? kib : null);
    }
}
