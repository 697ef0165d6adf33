using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

/// <summary>
/// The cheap change check of a rescan (<see cref="HostDiscovery.HasChanged"/>) against what discovery read: the hash
/// discovery takes while reading must equal the one the rescan takes on an unchanged tree, also where discovery met
/// errors, and any change to what discovery would read must show.
/// </summary>
public sealed class RescanTests : IDisposable
{
    private readonly string _root = HardwareFixtures.FreshCopy("workstation");

    private string Gpu => Path.Combine(_root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0");

    public void Dispose() => Directory.Delete(_root, true);

    private void Replace(string relative, string old, string now)
    {
        string path = Path.Combine(_root, relative);
        string text = File.ReadAllText(path);
        Assert.Contains(old, text, StringComparison.Ordinal);
        File.WriteAllText(path, text.Replace(old, now, StringComparison.Ordinal));
    }

    private HostDiscovery Discovered()
    {
        var discovery = new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc"));
        discovery.Discover();
        return discovery;
    }

    [Fact]
    public void An_optional_attribute_appearing_is_a_change()
    {
        HostDiscovery discovery = Discovered();

        File.WriteAllText(Path.Combine(Gpu, "sriov_totalvfs"), "4\n");

        Assert.True(discovery.HasChanged());
        Assert.Equal(4, discovery.Discover().FindDevice(PciAddress.Parse("0000:01:00.0"))!.Sriov!.TotalVfs);
        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void Memory_hotplug_changing_a_nodes_mem_total_is_a_change()
    {
        HostDiscovery discovery = Discovered();

        Replace("sys/devices/system/node/node0/meminfo", "MemTotal:             131546300", "MemTotal:             148323516");

        Assert.True(discovery.HasChanged());
        Assert.Equal(148323516L * 1024, discovery.Discover().NumaNodes[0].MemoryTotalBytes);
        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void Memory_hotplug_changing_the_machines_mem_total_is_a_change()
    {
        HostDiscovery discovery = Discovered();

        Replace("proc/meminfo", "MemTotal:       131546300", "MemTotal:       148323516");

        Assert.True(discovery.HasChanged());
        Assert.Equal(148323516L * 1024, discovery.Discover().MemoryTotalBytes);
        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void The_machines_meminfo_growing_past_the_read_limit_is_a_change_and_then_none()
    {
        HostDiscovery discovery = Discovered();

        // Discovery ignores a meminfo longer than one bounded read (a warning, MemTotal unknown): the rescan must
        // see the same file as discovery did, not a MemTotal parsed from its first 4 KiB.
        File.AppendAllText(Path.Combine(_root, "proc/meminfo"), new string('x', 5000) + "\n");

        Assert.True(discovery.HasChanged());
        HostTopology topology = discovery.Discover();
        Assert.Null(topology.MemoryTotalBytes);
        Assert.Contains(topology.Warnings, w => w.Path == "/proc/meminfo" && w.Message.Contains("longer than 4096 bytes", StringComparison.Ordinal));
        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void A_nodes_meminfo_shrinking_back_under_the_read_limit_is_a_change()
    {
        string meminfo = Path.Combine(_root, "sys/devices/system/node/node0/meminfo");
        string sound = File.ReadAllText(meminfo);
        File.WriteAllText(meminfo, sound + new string('x', 5000) + "\n");
        HostDiscovery discovery = Discovered();

        File.WriteAllText(meminfo, sound);

        Assert.True(discovery.HasChanged());
        Assert.Equal(131546300L * 1024, discovery.Discover().NumaNodes[0].MemoryTotalBytes);
        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void Free_memory_moving_in_a_node_or_in_the_machine_is_no_change()
    {
        HostDiscovery discovery = Discovered();

        Replace("sys/devices/system/node/node0/meminfo", "MemFree:              124968985", "MemFree:              100000000");
        Replace("proc/meminfo", "MemFree:        65773150", "MemFree:        1");

        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void A_rescan_that_finds_nothing_changed_allocates_nothing()
    {
        HostDiscovery discovery = Discovered();
        Assert.False(discovery.HasChanged());

        long before = GC.GetAllocatedBytesForCurrentThread();
        bool changed = discovery.HasChanged();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.False(changed);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void The_default_route_moving_to_another_nic_is_a_change()
    {
        // The IPv4 route alone: the fixture's IPv6 default route is on enp2s0 as well.
        File.Delete(Path.Combine(_root, "proc/net/ipv6_route"));
        HostDiscovery discovery = Discovered();
        Assert.Contains(PciAddress.Parse("0000:02:00.0"), discovery.Discover().HostNeeded.Keys);

        Replace("proc/net/route", "enp2s0\t00000000", "enp9s0\t00000000");

        Assert.True(discovery.HasChanged());
        Assert.DoesNotContain(PciAddress.Parse("0000:02:00.0"), discovery.Discover().HostNeeded.Keys);
        Assert.False(discovery.HasChanged());
    }

    private const string Ipv6DefaultRoute = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003   enp2s0\n";

    [Fact]
    public void An_ipv6_default_route_appearing_is_a_change_and_then_none_and_the_rescan_still_allocates_nothing()
    {
        File.WriteAllText(Path.Combine(_root, "proc/net/route"), "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
        File.Delete(Path.Combine(_root, "proc/net/ipv6_route"));
        HostDiscovery discovery = Discovered();
        Assert.DoesNotContain(PciAddress.Parse("0000:02:00.0"), discovery.Discover().HostNeeded.Keys);

        File.WriteAllText(Path.Combine(_root, "proc/net/ipv6_route"), Ipv6DefaultRoute);

        Assert.True(discovery.HasChanged());
        Assert.Contains(PciAddress.Parse("0000:02:00.0"), discovery.Discover().HostNeeded.Keys);
        Assert.False(discovery.HasChanged());
        long before = GC.GetAllocatedBytesForCurrentThread();
        bool changed = discovery.HasChanged();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.False(changed);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void A_route_line_that_does_not_parse_appearing_is_a_change_so_that_its_warning_shows()
    {
        HostDiscovery discovery = Discovered();

        File.AppendAllText(Path.Combine(_root, "proc/net/route"), "garbled\n");

        Assert.True(discovery.HasChanged());
        Assert.Contains(discovery.Discover().Warnings, w => w.Path == "/proc/net/route" && w.RawValue == "garbled");
        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void Another_disk_mounted_on_slash_is_a_change()
    {
        HostDiscovery discovery = Discovered();

        Replace("proc/self/mounts", "/dev/nvme0n1p2 / ext4", "/dev/sda1 / ext4");

        Assert.True(discovery.HasChanged());
        Assert.DoesNotContain(PciAddress.Parse("0000:03:00.0"), discovery.Discover().HostNeeded.Keys);
        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void The_boot_disks_block_link_moving_to_another_function_is_a_change()
    {
        HostDiscovery discovery = Discovered();

        string link = Path.Combine(_root, "sys/class/block/nvme0n1p2");
        File.Delete(link);
        File.CreateSymbolicLink(link, "../../devices/pci0000:00/0000:00:01.1/0000:02:00.0");

        Assert.True(discovery.HasChanged());
    }

    [Fact]
    public void Mounts_coming_and_going_elsewhere_and_routes_other_than_the_default_are_no_change()
    {
        HostDiscovery discovery = Discovered();

        File.AppendAllText(Path.Combine(_root, "proc/self/mounts"), "/dev/loop3 /snap/core22/1380 squashfs ro,nodev,relatime 0 0\n");
        File.AppendAllText(Path.Combine(_root, "proc/net/route"), "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n");

        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void An_attribute_value_changing_is_a_change()
    {
        HostDiscovery discovery = Discovered();

        File.WriteAllText(Path.Combine(Gpu, "current_link_width"), "8\n");

        Assert.True(discovery.HasChanged());
    }

    [Fact]
    public void A_device_appearing_is_a_change()
    {
        HostDiscovery discovery = Discovered();

        Directory.CreateDirectory(Path.Combine(_root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.2"));
        File.CreateSymbolicLink(Path.Combine(_root, "sys/bus/pci/devices/0000:01:00.2"), "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.2");

        Assert.True(discovery.HasChanged());
    }

    [Fact]
    public void A_tree_with_broken_entries_still_rescans_as_unchanged()
    {
        // Every error path discovery takes (garbage, a symlink loop, a link leaving the root, a dangling device link,
        // a directory where a file belongs, a missing tree part) must hash the same way on the rescan.
        File.WriteAllText(Path.Combine(Gpu, "numa_node"), "banana\n");
        File.Delete(Path.Combine(Gpu, "reset_method"));
        File.CreateSymbolicLink(Path.Combine(Gpu, "reset_method"), "reset_method_loop");
        File.CreateSymbolicLink(Path.Combine(Gpu, "reset_method_loop"), "reset_method");
        File.Delete(Path.Combine(Gpu, "driver"));
        File.CreateSymbolicLink(Path.Combine(Gpu, "driver"), "/sys/bus/pci/drivers/nvidia");
        File.Delete(Path.Combine(Gpu, "local_cpulist"));
        Directory.CreateDirectory(Path.Combine(Gpu, "local_cpulist"));
        string link = Path.Combine(_root, "sys/bus/pci/devices/0000:03:00.0");
        File.Delete(link);
        File.CreateSymbolicLink(link, "../../../devices/pci0000:00/0000:00:1d.0/0000:03:00.0-gone");
        Directory.Delete(Path.Combine(_root, "sys/kernel/mm/hugepages"), true);

        HostDiscovery discovery = Discovered();

        Assert.False(discovery.HasChanged());
    }

    [Fact]
    public void A_relative_link_that_climbs_out_of_the_root_is_refused()
    {
        string driver = Path.Combine(Gpu, "driver");
        File.Delete(driver);
        File.CreateSymbolicLink(driver, "../../../../../../../../../../../../../../bus/pci/drivers/nvidia");

        HostTopology t = Discovered().Discover();

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.Driver);
        Assert.Contains(t.Warnings, w => w.Path.EndsWith("0000:01:00.0/driver", StringComparison.Ordinal) && w.Message.Contains("leaves the sysfs root", StringComparison.Ordinal));
    }

    [Fact]
    public void A_link_with_dot_components_and_double_slashes_is_followed_inside_the_root()
    {
        string driver = Path.Combine(Gpu, "driver");
        string target = new FileInfo(driver).LinkTarget!;
        File.Delete(driver);
        File.CreateSymbolicLink(driver, "./" + target.Replace("/", "//", StringComparison.Ordinal));

        HostTopology t = Discovered().Discover();

        Assert.Empty(t.Warnings);
        Assert.Equal(Path.GetFileName(target), t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.Driver);
    }
}
