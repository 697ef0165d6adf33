using AiFactory.Host.Hardware.Uevents;

namespace AiFactory.Host.Hardware.Tests.Uevents;

public class UeventFilterTests
{
    [Theory]
    [InlineData("bind@/devices/pci0000:00/0000:00:02.0\0SUBSYSTEM=pci\0")]
    [InlineData("add@/devices/pci0000:00/0000:00:03.0/net/eth1\0SUBSYSTEM=net\0")]
    [InlineData("add@/devices/pci0000:00/0000:00:04.0/infiniband/mlx5_0\0SUBSYSTEM=infiniband\0")]
    [InlineData("offline@/devices/system/cpu/cpu7\0SUBSYSTEM=cpu\0")]
    [InlineData("online@/devices/system/memory/memory42\0SUBSYSTEM=memory\0")]
    [InlineData("add@/devices/system/node/node1\0SUBSYSTEM=node\0")]
    [InlineData("add@/devices/virtual/vfio/12\0SUBSYSTEM=vfio\0")]
    [InlineData("online@/devices/system/cpu/cpu3\0")]
    public void Events_that_change_what_discovery_reads_count(string datagram)
    {
        Assert.True(UeventFilter.AffectsInventory(UeventParser.Parse(datagram)!));
    }

    [Theory]
    [InlineData("add@/devices/virtual/block/loop0\0SUBSYSTEM=block\0")]
    [InlineData("change@/devices/virtual/tty/tty1\0SUBSYSTEM=tty\0")]
    [InlineData("add@/devices/pci0000:00/0000:00:1d.0/usb2/2-1\0SUBSYSTEM=usb\0")]
    [InlineData("add@/module/kvm\0SUBSYSTEM=module\0")]
    [InlineData("add@/devices/virtual/misc/fuse\0")]
    public void Other_events_do_not(string datagram)
    {
        Assert.False(UeventFilter.AffectsInventory(UeventParser.Parse(datagram)!));
    }
}
