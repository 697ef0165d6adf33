using AiFactory.Agent.Events;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Model.Pci;
using AiFactory.Profile.Tests.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Profile.Tests.Configure;

/// <summary>The boot disk and the management NIC, found from procfs and sysfs without being listed in the profile.</summary>
public sealed class HostNeededDevicesTests : IDisposable
{
    private const string Mounts = """
        sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
        rootfs / rootfs rw 0 0
        /dev/nvme0n1p2 / ext4 rw,relatime,errors=remount-ro 0 0
        /dev/nvme0n1p1 /boot/efi vfat rw,relatime 0 0
        """;

    private const string Route = """
        Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
        ib0	0000A8C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
        enp2s0	00000000	0100000A	0003	0	0	100	00000000	0	0	0
        wlan0	00000000	0101A8C0	0003	0	0	600	00000000	0	0	0
        """;

    private readonly FakeSysfs _fs = new FakeSysfs()
        .Device("0000:02:00.0", 0x8086, 0x10d3, 0x020000, "e1000e", 8)
        .Device("0000:06:00.0", 0x1b36, 0x0010, 0x010802, "nvme", 20)
        .Device("0000:06:00.1", 0x1b36, 0x000d, 0x0c0330, "xhci_hcd", 20)
        .Device("0000:81:00.0", 0x1b36, 0x0010, 0x010802, "nvme", 12)
        .Node(0, "0-3", 2 * 1024 * 1024, 2048);

    private readonly FakeSystemctl _systemctl = new();

    public HostNeededDevicesTests()
    {
        _fs.Write("../proc/self/mounts", Mounts);
        _fs.Write("../proc/net/route", Route);
        Link("class/block/nvme0n1", "../../devices/pci0000:00/0000:00:1d.0/0000:06:00.0/nvme/nvme0/nvme0n1");
        Link("class/block/nvme0n1p2", "../../devices/pci0000:00/0000:00:1d.0/0000:06:00.0/nvme/nvme0/nvme0n1/nvme0n1p2");
        Link("class/net/enp2s0", "../../devices/pci0000:00/0000:00:1c.0/0000:02:00.0/net/enp2s0");
    }

    private string ProcfsDir => Path.Join(Path.GetDirectoryName(_fs.Root)!, "proc");

    public void Dispose()
    {
        _fs.Dispose();
        _systemctl.Dispose();
    }

    [Fact]
    public void The_root_mount_is_the_last_device_mounted_on_slash_and_not_the_initramfs()
    {
        Assert.Equal("/dev/nvme0n1p2", MountsParser.RootDevice(Mounts));
        Assert.Equal("/dev/disk with space", MountsParser.RootDevice("/dev/disk\\040with\\040space / ext4 rw 0 0\n"));
        Assert.Null(MountsParser.RootDevice("rootfs / rootfs rw 0 0\n"));
    }

    [Fact]
    public void The_management_interface_is_the_up_default_route_with_the_lowest_metric()
    {
        Assert.Equal("enp2s0", NetRouteParser.DefaultRouteInterface(Route));
        Assert.Null(NetRouteParser.DefaultRouteInterface("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n"));
    }

    [Fact]
    public void The_boot_disk_and_the_management_NIC_are_found_as_PCI_functions_with_the_reason()
    {
        IReadOnlyDictionary<PciAddress, string> needed = new HostNeededDevices(new SysfsRoot(_fs.Root), new ProcfsRoot(ProcfsDir)).Read(new DiscoveryWarnings());

        Assert.Equal([PciAddress.Parse("0000:02:00.0"), PciAddress.Parse("0000:06:00.0")], needed.Keys);
        Assert.Equal("the boot disk (/dev/nvme0n1p2 is mounted on /)", needed[PciAddress.Parse("0000:06:00.0")]);
        Assert.Equal("the management NIC (enp2s0 carries the default route)", needed[PciAddress.Parse("0000:02:00.0")]);
    }

    [Fact]
    public void A_root_on_device_mapper_is_followed_to_the_disks_underneath()
    {
        _fs.Write("../proc/self/mounts", "/dev/mapper/vg-root / xfs rw 0 0\n");
        Directory.CreateDirectory(_fs.P("devices/virtual/block/dm-0/slaves"));
        Link("class/block/dm-0", "../../devices/virtual/block/dm-0");
        _fs.Write("devices/virtual/block/dm-0/dm/name", "vg-root");
        File.CreateSymbolicLink(_fs.P("devices/virtual/block/dm-0/slaves/nvme0n1p2"), "../../../../pci0000:00/0000:00:1d.0/0000:06:00.0/nvme/nvme0/nvme0n1/nvme0n1p2");

        IReadOnlyDictionary<PciAddress, string> needed = new HostNeededDevices(new SysfsRoot(_fs.Root), new ProcfsRoot(ProcfsDir)).Read(new DiscoveryWarnings());

        Assert.Contains("/dev/mapper/vg-root", needed[PciAddress.Parse("0000:06:00.0")]);
    }

    [Fact]
    public void A_vfio_request_whose_group_holds_the_boot_disk_is_refused_with_the_group_listed()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => Manager().Apply("version: v1\nvfio:\n  devices: [0000:06:00.1]\n", "test"));

        var error = Assert.Single(ex.Errors);
        Assert.Equal("vfio.devices[0]", error.Field);
        Assert.Equal("IOMMU group 20 (0000:06:00.0, 0000:06:00.1) also holds 0000:06:00.0, a device the host needs (the boot disk (/dev/nvme0n1p2 is mounted on /))", error.Reason);
    }

    [Fact]
    public void A_vfio_request_for_the_management_NIC_is_refused_and_another_disk_is_planned()
    {
        ProfileManager manager = Manager();

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply("version: v1\nvfio:\n  devices: [0000:02:00.0]\n", "test"));
        var plan = manager.Plan("version: v1\nvfio:\n  devices: [0000:81:00.0]\n").Plan;

        Assert.Contains("the management NIC (enp2s0 carries the default route): the host needs it", Assert.Single(ex.Errors).Reason);
        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
    }

    /// <summary>A class link and the device directory it lands on (a dangling link is not followed).</summary>
    private void Link(string relative, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_fs.P(relative))!);
        Directory.CreateDirectory(Path.GetFullPath(Path.Join(Path.GetDirectoryName(_fs.P(relative))!, target)));
        File.CreateSymbolicLink(_fs.P(relative), target);
    }

    private ProfileManager Manager() => new(
        TestProfileEnvironment.For(_fs, _systemctl) with { ProcfsRoot = ProcfsDir },
        new EventBus(),
        NullLogger<ProfileManager>.Instance);
}
