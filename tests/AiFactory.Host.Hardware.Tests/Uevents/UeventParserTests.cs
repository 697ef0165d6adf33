using System.Text;
using AiFactory.Host.Hardware.Uevents;

namespace AiFactory.Host.Hardware.Tests.Uevents;

public class UeventParserTests
{
    private const string PciBind =
        "bind@/devices/pci0000:00/0000:00:02.0\0ACTION=bind\0DEVPATH=/devices/pci0000:00/0000:00:02.0\0SUBSYSTEM=pci\0" +
        "DRIVER=vfio-pci\0PCI_CLASS=30000\0PCI_ID=10DE:2330\0PCI_SLOT_NAME=0000:00:02.0\0SEQNUM=4711\0";

    [Fact]
    public void A_pci_bind_datagram_gives_its_action_devpath_subsystem_and_variables()
    {
        Uevent? e = UeventParser.Parse(PciBind);

        Assert.NotNull(e);
        Assert.Equal("bind", e.Action);
        Assert.Equal("/devices/pci0000:00/0000:00:02.0", e.DevPath);
        Assert.Equal("pci", e.Subsystem);
        Assert.Equal("vfio-pci", e.Properties["DRIVER"]);
        Assert.Equal("0000:00:02.0", e.Properties["PCI_SLOT_NAME"]);
        Assert.Equal("4711", e.Properties["SEQNUM"]);
        Assert.Equal(8, e.Properties.Count);
    }

    [Fact]
    public void A_value_may_contain_equals_signs()
    {
        Uevent? e = UeventParser.Parse("change@/devices/virtual/net/eth0\0SUBSYSTEM=net\0MODALIAS=a=b=c\0");

        Assert.Equal("a=b=c", e!.Properties["MODALIAS"]);
    }

    [Fact]
    public void A_header_alone_gives_an_event_without_subsystem()
    {
        Uevent? e = UeventParser.Parse("online@/devices/system/cpu/cpu3\0");

        Assert.NotNull(e);
        Assert.Equal("online", e.Action);
        Assert.Null(e.Subsystem);
        Assert.Empty(e.Properties);
    }

    [Fact]
    public void A_truncated_datagram_keeps_the_complete_fields_and_drops_the_cut_one()
    {
        string cut = PciBind[..PciBind.IndexOf("PCI_ID=10DE", StringComparison.Ordinal)] + "PCI_ID=10";

        Uevent? e = UeventParser.Parse(cut);

        Assert.NotNull(e);
        Assert.Equal("vfio-pci", e.Properties["DRIVER"]);
        Assert.False(e.Properties.ContainsKey("PCI_ID"));
        Assert.False(e.Properties.ContainsKey("SEQNUM"));
    }

    [Fact]
    public void A_datagram_cut_inside_its_header_is_not_an_event()
    {
        Assert.Null(UeventParser.Parse("bind@/devices/pci0000:00/0000:0"));
    }

    [Fact]
    public void Fields_without_equals_or_with_an_empty_key_are_skipped()
    {
        Uevent? e = UeventParser.Parse("add@/devices/pci0000:00\0junk\0=value\0\0SUBSYSTEM=pci_bus\0");

        Assert.Equal("pci_bus", e!.Subsystem);
        Assert.Single(e.Properties);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\0")]
    [InlineData("garbage\0")]
    [InlineData("@/devices/pci0000:00\0")]
    [InlineData("add@\0")]
    [InlineData("add@devices/relative\0")]
    [InlineData("add@/devices/with space\0")]
    [InlineData("add\n@/devices/pci0000:00\0")]
    [InlineData("libudev\0\xfe\xed\xca\xfe")]
    public void Garbage_is_not_an_event(string datagram)
    {
        Assert.Null(UeventParser.Parse(datagram));
    }

    [Fact]
    public void Invalid_utf8_in_the_header_is_not_an_event()
    {
        byte[] datagram = [.. "add@/devices/"u8, 0xff, 0xfe, 0];

        Assert.Null(UeventParser.Parse(datagram));
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(1234);
        byte[] buffer = new byte[256];
        for (int i = 0; i < 2000; i++)
        {
            random.NextBytes(buffer);
            buffer[random.Next(buffer.Length)] = (byte)'@';
            _ = UeventParser.Parse(buffer.AsSpan(0, random.Next(buffer.Length)));
        }

        Assert.Null(UeventParser.Parse(Encoding.UTF8.GetBytes("x")));
    }
}
