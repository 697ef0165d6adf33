using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

/// <summary>Discovery on damaged copies of a fixture: a partial inventory and a warning, never an exception or a hang.</summary>
public sealed class BrokenTreeTests : IDisposable
{
    private readonly string _root = HardwareFixtures.FreshCopy("workstation");

    private string Sys(string relative) => Path.Combine(_root, "sys", relative);

    private string Gpu => Path.Combine(_root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0");

    private HostTopology Discover() => new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc")).Discover();

    public void Dispose() => Directory.Delete(_root, true);

    [Fact]
    public void Garbage_numa_node_gives_a_warning_with_file_and_raw_value_and_an_unknown_node()
    {
        File.WriteAllText(Path.Combine(Gpu, "numa_node"), "banana\n");

        HostTopology t = Discover();

        PciDevice gpu = t.FindDevice(PciAddress.Parse("0000:01:00.0"))!;
        Assert.Null(gpu.NumaNode);
        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.Equal("/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/numa_node", w.Path);
        Assert.Equal("banana", w.RawValue);
        Assert.Contains("0000:01:00.0", w.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_vendor_file_skips_only_that_device()
    {
        File.WriteAllText(Path.Combine(Gpu, "vendor"), string.Empty);

        HostTopology t = Discover();

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0")));
        Assert.NotNull(t.FindDevice(PciAddress.Parse("0000:01:00.1")));
        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.Equal("/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor", w.Path);
        Assert.Equal(string.Empty, w.RawValue);
        Assert.Equal("failed to parse vendor for 0000:01:00.0: \"\" is not a 16-bit hex id (expected e.g. 0x10de); device skipped", w.Message);
    }

    [Fact]
    public void A_missing_optional_attribute_is_null_without_a_warning()
    {
        File.Delete(Path.Combine(Gpu, "reset_method"));
        File.Delete(Path.Combine(Gpu, "max_link_speed"));

        HostTopology t = Discover();

        Assert.Empty(t.Warnings);
        PciDevice gpu = t.FindDevice(PciAddress.Parse("0000:01:00.0"))!;
        Assert.Empty(gpu.ResetMethods);
        Assert.Null(gpu.Link!.MaxSpeedGts);
    }

    [Fact]
    public void An_unreadable_attribute_is_a_warning()
    {
        if (Environment.IsPrivilegedProcess)
        {
            // root reads mode-000 files anyway; make it unreadable another way: a directory in place of the file.
            File.Delete(Path.Combine(Gpu, "local_cpulist"));
            Directory.CreateDirectory(Path.Combine(Gpu, "local_cpulist"));
        }
        else
        {
            File.SetUnixFileMode(Path.Combine(Gpu, "local_cpulist"), UnixFileMode.None);
        }

        HostTopology t = Discover();

        Assert.Contains(t.Warnings, w => w.Path.EndsWith("local_cpulist", StringComparison.Ordinal) && w.Message.Contains("cannot read", StringComparison.Ordinal));
        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.LocalCpus);
    }

    [Fact]
    public void A_dangling_device_link_skips_the_device_with_a_warning()
    {
        string link = Sys("bus/pci/devices/0000:03:00.0");
        File.Delete(link);
        File.CreateSymbolicLink(link, "../../../devices/pci0000:00/0000:00:1d.0/0000:03:00.0-gone");

        HostTopology t = Discover();

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:03:00.0")));
        Assert.Contains(t.Warnings, w => w.Path == "/sys/bus/pci/devices/0000:03:00.0");
    }

    [Fact]
    public void A_device_link_to_another_functions_directory_skips_the_device_instead_of_reporting_a_copy_of_that_function()
    {
        string link = Sys("bus/pci/devices/0000:03:00.0");
        File.Delete(link);
        File.CreateSymbolicLink(link, "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");

        HostTopology t = Discover();

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:03:00.0")));
        Assert.Single(t.PciDevices, d => d.VendorId == 0x10de && d.Kind == DeviceKind.Gpu);
        DiscoveryWarning w = Assert.Single(t.Warnings, w => w.Path == "/sys/bus/pci/devices/0000:03:00.0");
        Assert.Equal("/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0", w.RawValue);
        Assert.Contains("not the directory of 0000:03:00.0", w.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_device_link_to_a_file_skips_the_device_with_one_warning_naming_the_link()
    {
        string link = Sys("bus/pci/devices/0000:03:00.0");
        File.Delete(link);
        File.CreateSymbolicLink(link, "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor");

        HostTopology t = Discover();

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:03:00.0")));
        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.Equal("/sys/bus/pci/devices/0000:03:00.0", w.Path);
    }

    [Fact]
    public void A_symlink_loop_is_reported_not_followed_forever()
    {
        string a = Path.Combine(Gpu, "numa_node");
        File.Delete(a);
        File.CreateSymbolicLink(a, "numa_node_loop");
        File.CreateSymbolicLink(Path.Combine(Gpu, "numa_node_loop"), "numa_node");

        HostTopology t = Discover();

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.NumaNode);
        Assert.Contains(t.Warnings, w => w.Path.EndsWith("numa_node", StringComparison.Ordinal) && w.Message.Contains("ELOOP", StringComparison.Ordinal));
    }

    [Fact]
    public void An_attribute_that_is_a_symlink_out_of_the_root_is_not_read()
    {
        // A file outside the tree holding a value that would be believed if it were read.
        string outside = Path.Combine(Path.GetDirectoryName(_root)!, "outside-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(outside, "1\n");
        try
        {
            string numaNode = Path.Combine(Gpu, "numa_node");
            File.Delete(numaNode);
            File.CreateSymbolicLink(numaNode, outside);

            HostTopology t = Discover();

            Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.NumaNode);
            Assert.Contains(t.Warnings, w => w.Path.EndsWith("numa_node", StringComparison.Ordinal) && w.Message.Contains("ELOOP", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(outside);
        }
    }

    [Fact]
    public void A_fifo_in_place_of_an_attribute_does_not_hang_discovery()
    {
        string fifo = Path.Combine(Gpu, "class");
        File.Delete(fifo);
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        HostTopology t = Discover(); // would block forever in a plain blocking open() of a FIFO with no writer

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0")));
        Assert.NotNull(t.FindDevice(PciAddress.Parse("0000:01:00.1")));
    }

    [Fact]
    public void A_link_that_leaves_the_root_is_refused()
    {
        string driver = Path.Combine(Gpu, "driver");
        File.Delete(driver);
        File.CreateSymbolicLink(driver, "/sys/bus/pci/drivers/nvidia");

        HostTopology t = Discover();

        Assert.Null(t.FindDevice(PciAddress.Parse("0000:01:00.0"))!.Driver);
        Assert.Contains(t.Warnings, w => w.Path.EndsWith("/driver", StringComparison.Ordinal) && w.Message.Contains("leaves the sysfs root", StringComparison.Ordinal));
    }

    [Fact]
    public void A_device_entry_that_is_not_a_pci_address_is_ignored_with_a_warning()
    {
        File.CreateSymbolicLink(Sys("bus/pci/devices/..evil"), "../../../devices/pci0000:00/0000:00:1d.0");

        HostTopology t = Discover();

        Assert.Contains(t.Warnings, w => w.RawValue == "..evil");
        Assert.Equal(9, t.PciDevices.Count);
    }

    [Theory]
    [InlineData("../0000:01:00.0")]
    [InlineData("0000:01:00.0/../../..")]
    [InlineData("..")]
    [InlineData("")]
    public void A_device_name_that_tries_to_leave_the_tree_is_refused(string name)
    {
        var root = new SysfsRoot(Path.Combine(_root, "sys"));

        Assert.Throws<ArgumentException>(() => PciDeviceReader.Read(root, name, new DiscoveryWarnings()));
    }

    [Fact]
    public void A_missing_tree_gives_an_empty_inventory_not_an_exception()
    {
        HostTopology t = new HostDiscovery(Path.Combine(_root, "nothing-here"), null).Discover();

        Assert.Empty(t.PciDevices);
        Assert.Empty(t.Cpus.Cpus);
    }

    [Fact]
    public void A_rescan_of_an_unchanged_tree_sees_no_change_and_a_driver_unbind_is_a_change()
    {
        var discovery = new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc"));
        discovery.Discover();

        Assert.False(discovery.HasChanged());
        File.Delete(Path.Combine(Gpu, "driver"));
        Assert.True(discovery.HasChanged());
    }

    [Fact]
    public void Free_memory_changing_is_not_a_change()
    {
        var discovery = new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc"));
        discovery.Discover();

        string meminfo = Sys("devices/system/node/node0/meminfo");
        File.WriteAllText(meminfo, File.ReadAllText(meminfo).Replace("MemFree:", "MemFree:  1", StringComparison.Ordinal));

        Assert.False(discovery.HasChanged());
    }
}
