using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

/// <summary>
/// Network interfaces by link type, and which devices the host needs: the boot disk and the management NIC, the one
/// definition the IOMMU group reports share with the profile (Configure/HostNeededDevices).
/// </summary>
public sealed class HostNeededDiscoveryTests : IDisposable
{
    private readonly string _root = HardwareFixtures.FreshCopy("dgx-h100");

    public void Dispose() => Directory.Delete(_root, true);

    [Theory]
    [InlineData("1", NetDeviceKind.Ethernet, true)]
    [InlineData("32", NetDeviceKind.IpOverInfiniBand, true)]
    [InlineData("772", NetDeviceKind.Loopback, true)]
    [InlineData("776", NetDeviceKind.OtherNetwork, true)]
    [InlineData(null, NetDeviceKind.Ethernet, true)]
    [InlineData("banana", NetDeviceKind.OtherNetwork, false)]
    [InlineData("-1", NetDeviceKind.OtherNetwork, false)]
    [InlineData("", NetDeviceKind.OtherNetwork, false)]
    public void A_network_interface_is_classified_by_its_link_type(string? raw, NetDeviceKind expected, bool parses)
    {
        Assert.Equal(parses, NetClassReader.TryParseType(raw, out NetDeviceKind kind, out string? error));
        Assert.Equal(expected, kind);
        Assert.Equal(parses, error is null);
    }

    [Fact]
    public void The_ib_interfaces_of_the_dgx_are_ipoib_and_its_ethernet_ports_ethernet()
    {
        HostTopology t = Discover();

        Assert.Equal(8, t.NetDevices.Count(n => n.Kind == NetDeviceKind.IpOverInfiniBand && n.Name.StartsWith("ibp", StringComparison.Ordinal)));
        Assert.Equal(4, t.NetDevices.Count(n => n.Kind == NetDeviceKind.Ethernet && n.Name.StartsWith("enp161s0", StringComparison.Ordinal)));
        Assert.All(t.NetDevices.Where(n => !n.IsNetworkInterface), n => Assert.StartsWith("mlx5_", n.Name, StringComparison.Ordinal));
    }

    [Fact]
    public void The_boot_disk_of_the_dgx_is_host_needed_and_without_a_default_route_no_nic_is()
    {
        HostTopology t = Discover();

        var boot = PciAddress.Parse("0000:51:00.0");
        Assert.Equal([boot], t.HostNeeded.Keys);
        Assert.Equal("the boot disk (/dev/nvme0n1p2 is mounted on /)", t.HostNeeded[boot]);
        Assert.Empty(t.Warnings);
        Assert.Equal([boot], Assert.Single(IommuGroupReport.Analyze(t), g => g.HostNeeded.Count > 0).HostNeeded);
    }

    [Fact]
    public void The_workstations_nic_of_the_default_route_is_host_needed_and_so_is_the_group_it_shares_with_the_gpu()
    {
        HostTopology t = new HostDiscovery(Path.Combine(HardwareFixtures.Root("workstation"), "sys"), Path.Combine(HardwareFixtures.Root("workstation"), "proc")).Discover();

        var nic = PciAddress.Parse("0000:02:00.0");
        var disk = PciAddress.Parse("0000:03:00.0");
        Assert.Equal([nic, disk], t.HostNeeded.Keys);
        Assert.Equal("the management NIC (enp2s0 carries the default route)", t.HostNeeded[nic]);
        IommuGroupReport gpuGroup = Assert.Single(IommuGroupReport.Analyze(t), g => g.Members.Contains(PciAddress.Parse("0000:01:00.0")));
        Assert.Equal([nic], gpuGroup.HostNeeded);
    }

    [Fact]
    public void The_nic_of_the_default_route_is_host_needed_and_its_group_says_so()
    {
        File.WriteAllText(Path.Combine(_root, "proc/net/route"),
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
            "enp161s0f0np0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");

        HostTopology t = Discover();

        var nic = PciAddress.Parse("0000:a1:00.0");
        Assert.Equal([PciAddress.Parse("0000:51:00.0"), nic], t.HostNeeded.Keys);
        Assert.Contains("enp161s0f0np0", t.HostNeeded[nic], StringComparison.Ordinal);
        IommuGroupReport[] flagged = [.. IommuGroupReport.Analyze(t).Where(g => g.HostNeeded.Contains(nic))];
        Assert.Equal([nic], Assert.Single(flagged).HostNeeded);
    }

    private const string Zero32 = "00000000000000000000000000000000";

    [Fact]
    public void The_nic_of_an_ipv6_only_hosts_default_route_is_host_needed()
    {
        File.WriteAllText(Path.Combine(_root, "proc/net/ipv6_route"),
            "fe800000000000000000000000000000 40 " + Zero32 + " 00 " + Zero32 + " 00000100 00000001 00000000 00000001 enp161s0f0np0\n" +
            Zero32 + " 00 " + Zero32 + " 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 enp161s0f0np0\n" +
            Zero32 + " 00 " + Zero32 + " 00 " + Zero32 + " ffffffff 00000001 00000000 00200200       lo\n");

        HostTopology t = Discover();

        var nic = PciAddress.Parse("0000:a1:00.0");
        Assert.Equal([PciAddress.Parse("0000:51:00.0"), nic], t.HostNeeded.Keys);
        Assert.Equal("the management NIC (enp161s0f0np0 carries the IPv6 default route)", t.HostNeeded[nic]);
        Assert.Empty(t.Warnings);
    }

    [Fact]
    public void The_nics_of_both_an_ipv4_and_an_ipv6_default_route_are_host_needed()
    {
        File.WriteAllText(Path.Combine(_root, "proc/net/route"),
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
            "enp161s0f0np0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        File.WriteAllText(Path.Combine(_root, "proc/net/ipv6_route"),
            Zero32 + " 00 " + Zero32 + " 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 enp161s0f1np1\n");

        HostTopology t = Discover();

        Assert.Contains("enp161s0f0np0 carries the default route", t.HostNeeded[PciAddress.Parse("0000:a1:00.0")], StringComparison.Ordinal);
        Assert.Contains("enp161s0f1np1 carries the IPv6 default route", t.HostNeeded[PciAddress.Parse("0000:a1:00.1")], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\nenp161s0f0np0 00000000 garbled\n", "enp161s0f0np0 00000000 garbled")]
    [InlineData("net/ipv6_route", "00000000 00 enp161s0f0np0\n", "00000000 00 enp161s0f0np0")]
    [InlineData("net/route", "\u001b]0;pwned\u0007\n", "\\x1b]0;pwned\\x07")]
    public void A_route_line_that_does_not_parse_is_a_warning_naming_the_file_and_the_line(string file, string content, string raw)
    {
        File.WriteAllText(Path.Combine(_root, "proc", file), content);

        HostTopology t = Discover();

        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.Equal("/proc/" + file, w.Path);
        Assert.Equal(raw, w.RawValue);
        Assert.Equal("route line does not parse; ignored", w.Message);
    }

    [Fact]
    public void An_empty_route_table_is_a_warning()
    {
        File.WriteAllText(Path.Combine(_root, "proc/net/route"), string.Empty);

        HostTopology t = Discover();

        DiscoveryWarning w = Assert.Single(t.Warnings);
        Assert.Equal("/proc/net/route", w.Path);
        Assert.StartsWith("empty", w.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Where_a_default_route_is_expected_none_in_either_table_is_one_warning_and_an_absent_ipv6_table_none()
    {
        Assert.False(File.Exists(Path.Combine(_root, "proc/net/ipv6_route")));
        var warnings = new DiscoveryWarnings();

        new HostNeededDevices(new SysfsRoot(Path.Combine(_root, "sys")), new ProcfsRoot(Path.Combine(_root, "proc")), expectDefaultRoute: true).Read(warnings);

        DiscoveryWarning w = Assert.Single(warnings.Items);
        Assert.Equal("/proc/net/route", w.Path);
        Assert.StartsWith("no default route, IPv4 or IPv6 (nor in /proc/net/ipv6_route)", w.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Where_a_default_route_is_expected_an_ipv6_one_is_enough()
    {
        File.WriteAllText(Path.Combine(_root, "proc/net/ipv6_route"),
            Zero32 + " 00 " + Zero32 + " 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 enp161s0f0np0\n");
        var warnings = new DiscoveryWarnings();

        IReadOnlyDictionary<PciAddress, string> needed = new HostNeededDevices(new SysfsRoot(Path.Combine(_root, "sys")), new ProcfsRoot(Path.Combine(_root, "proc")), expectDefaultRoute: true).Read(warnings);

        Assert.Empty(warnings.Items);
        Assert.Contains(PciAddress.Parse("0000:a1:00.0"), needed.Keys);
    }

    [Fact]
    public void A_fixture_procfs_is_not_the_live_one_and_the_live_one_is()
    {
        Assert.False(new ProcfsRoot(Path.Combine(_root, "proc")).IsLive);
        Assert.True(ProcfsRoot.Live.IsLive);
    }

    [Theory]
    [InlineData("self/mounts")]
    [InlineData("net/route")]
    [InlineData("net/ipv6_route")]
    public async Task A_fifo_in_place_of_a_procfs_file_host_needed_detection_reads_is_a_warning_naming_it_not_a_hang(string file)
    {
        string path = Path.Combine(_root, "proc", file);
        File.Delete(path);
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        // A plain blocking open() of a FIFO with no writer never returns: discovery runs on its own thread, and the
        // generous wait tells a hang from a slow machine.
        Task<HostTopology> discovery = Task.Factory.StartNew(Discover, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.Same(discovery, await Task.WhenAny(discovery, Task.Delay(TimeSpan.FromMinutes(2))));
        HostTopology t = await discovery;

        Assert.Contains(t.Warnings, w => w.Path == "/proc/" + file && w.Message.StartsWith("not a regular file", StringComparison.Ordinal));
        Assert.Equal(8, t.PciDevices.Count(d => d.Kind == DeviceKind.Gpu));
    }

    [Fact]
    public void A_mount_table_past_the_size_bound_is_refused_whole_with_a_warning()
    {
        string mounts = Path.Combine(_root, "proc/self/mounts");
        using (var writer = new StreamWriter(mounts, append: false))
        {
            writer.Write("/dev/nvme0n1p2 / ext4 rw 0 0\n");
            string filler = "overlay /var/lib/containers/storage/overlay/" + new string('x', 64) + " overlay rw 0 0\n";
            for (long written = 0; written <= HostNeededDevices.MaxProcFileSize; written += filler.Length)
            {
                writer.Write(filler);
            }
        }

        HostTopology t = Discover();

        Assert.Empty(t.HostNeeded);
        Assert.Contains(t.Warnings, w => w.Path == "/proc/self/mounts" && w.Message.StartsWith($"larger than {HostNeededDevices.MaxProcFileSize} bytes", StringComparison.Ordinal));
    }

    [Fact]
    public void A_boot_disk_link_that_leads_out_of_the_sysfs_root_through_another_link_is_refused()
    {
        // The link's own text stays inside and names a PCI function, but devices/escape leads out of the root: the
        // disk is not believed to sit on 0000:c9:00.0.
        string outside = Directory.CreateTempSubdirectory("aifactory-outside-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(outside, "0000:c9:00.0/nvme/nvme99/nvme99n1"));
            File.CreateSymbolicLink(Path.Combine(_root, "sys/devices/escape"), outside);
            File.CreateSymbolicLink(Path.Combine(_root, "sys/class/block/nvme99n1"), "../../devices/escape/0000:c9:00.0/nvme/nvme99/nvme99n1");
            File.WriteAllText(Path.Combine(_root, "proc/self/mounts"), "/dev/nvme99n1 / xfs rw 0 0\n");

            HostTopology t = Discover();

            Assert.Empty(t.HostNeeded);
            Assert.Contains(t.Warnings, w => w.Path == "/sys/class/block/nvme99n1" && w.Message.Contains("leaves the sysfs root", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(outside, true);
        }
    }

    private HostTopology Discover() => new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc")).Discover();
}
