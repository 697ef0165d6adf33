using System.Diagnostics;
using AiFactory.Host.Hardware.Capture;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Fixtures;

public sealed class CaptureAndArchiveTests
{
    private static HostTopology Discover(string root) => new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();

    private static string Temp() => Path.Combine(Path.GetTempPath(), "aifactory-capture-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [MemberData(nameof(HardwareFixtures.All), MemberType = typeof(HardwareFixtures))]
    public void A_captured_fixture_rediscovers_to_the_same_inventory(string name)
    {
        string root = HardwareFixtures.Root(name);
        string dest = Temp();
        try
        {
            IReadOnlyList<ArchiveEntry> entries = FixtureCapture.Capture(new SysfsRoot(Path.Combine(root, "sys")), new ProcfsRoot(Path.Combine(root, "proc")), includePrivate: false, new DiscoveryWarnings());
            var text = new StringWriter();
            TextArchive.Write(text, entries, "test capture");
            TextArchive.Extract(TextArchive.Parse(new StringReader(text.ToString())), dest);

            HostTopology original = Discover(root);
            HostTopology captured = Discover(dest);

            Assert.Empty(captured.Warnings);
            Assert.Equal(original.PciDevices, captured.PciDevices, PciEquals);
            Assert.Equal(original.Cpus.Cpus, captured.Cpus.Cpus);
            Assert.Equal(original.IommuGroups.Select(g => (g.Id, string.Join(",", g.Members))), captured.IommuGroups.Select(g => (g.Id, string.Join(",", g.Members))));
            Assert.Equal(original.NetDevices, captured.NetDevices);
            Assert.Equal(original.NumaNodes.Count, captured.NumaNodes.Count);
            Assert.NotEmpty(original.HostNeeded);
            Assert.Equal(original.HostNeeded, captured.HostNeeded);
        }
        finally
        {
            Directory.Delete(dest, true);
        }
    }

    [Fact]
    public void A_capture_keeps_of_the_mounts_and_routes_only_what_finds_the_boot_disk_and_the_management_nic()
    {
        string root = HardwareFixtures.FreshCopy("workstation");
        string dest = Temp();
        try
        {
            File.WriteAllText(Path.Combine(root, "proc/self/mounts"),
                "10.1.2.3:/export/home /home nfs4 rw,addr=10.1.2.3,clientaddr=10.1.2.17 0 0\n" +
                "/dev/nvme0n1p2 / ext4 rw,relatime,errors=remount-ro 0 0\n" +
                "/dev/mapper/luks-3f2a1c4e-aaaa-bbbb-cccc-0123456789ab /secret ext4 rw 0 0\n");
            File.AppendAllText(Path.Combine(root, "proc/net/route"), "wg0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");

            IReadOnlyList<ArchiveEntry> entries = FixtureCapture.Capture(new SysfsRoot(Path.Combine(root, "sys")), new ProcfsRoot(Path.Combine(root, "proc")), includePrivate: false, new DiscoveryWarnings());
            var text = new StringWriter();
            TextArchive.Write(text, entries, "test capture");
            TextArchive.Extract(TextArchive.Parse(new StringReader(text.ToString())), dest);

            Assert.Equal("/dev/nvme0n1p2 / ext4 rw 0 0\n", File.ReadAllText(Path.Combine(dest, "proc/self/mounts")));
            string route = File.ReadAllText(Path.Combine(dest, "proc/net/route"));
            Assert.Equal(2, route.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            Assert.Contains("enp2s0\t00000000\t00000000\t0003", route, StringComparison.Ordinal);
            Assert.DoesNotContain("0100000A", route, StringComparison.Ordinal);
            Assert.DoesNotContain("wg0", route, StringComparison.Ordinal);
            Assert.Equal(Discover(root).HostNeeded, Discover(dest).HostNeeded);
        }
        finally
        {
            Directory.Delete(root, true);
            if (Directory.Exists(dest))
            {
                Directory.Delete(dest, true);
            }
        }
    }

    [Fact]
    public void A_root_on_device_mapper_is_captured_with_its_volume_name_and_the_disk_underneath_uuids_zeroed_alike()
    {
        string root = HardwareFixtures.FreshCopy("workstation");
        string dest = Temp();
        try
        {
            const string Volume = "luks-3f2a1c4e-aaaa-bbbb-cccc-0123456789ab";
            File.WriteAllText(Path.Combine(root, "proc/self/mounts"), $"/dev/mapper/{Volume} / xfs rw 0 0\n");
            string dm = Path.Combine(root, "sys/devices/virtual/block/dm-0");
            Directory.CreateDirectory(Path.Combine(dm, "dm"));
            Directory.CreateDirectory(Path.Combine(dm, "slaves"));
            File.WriteAllText(Path.Combine(dm, "dm/name"), Volume + "\n");
            File.CreateSymbolicLink(Path.Combine(dm, "slaves/nvme0n1p2"), "../../../../pci0000:00/0000:00:1d.0/0000:03:00.0/nvme/nvme0/nvme0n1/nvme0n1p2");
            File.CreateSymbolicLink(Path.Combine(root, "sys/class/block/dm-0"), "../../devices/virtual/block/dm-0");

            IReadOnlyList<ArchiveEntry> entries = FixtureCapture.Capture(new SysfsRoot(Path.Combine(root, "sys")), new ProcfsRoot(Path.Combine(root, "proc")), includePrivate: false, new DiscoveryWarnings());
            var text = new StringWriter();
            TextArchive.Write(text, entries, "test capture");
            Assert.DoesNotContain("3f2a1c4e", text.ToString(), StringComparison.Ordinal);
            TextArchive.Extract(TextArchive.Parse(new StringReader(text.ToString())), dest);

            HostTopology original = Discover(root);
            HostTopology captured = Discover(dest);

            Assert.Contains(Volume, original.HostNeeded[Model.Pci.PciAddress.Parse("0000:03:00.0")], StringComparison.Ordinal);
            Assert.Equal(original.HostNeeded.Keys, captured.HostNeeded.Keys);
            Assert.Empty(captured.Warnings);
        }
        finally
        {
            Directory.Delete(root, true);
            if (Directory.Exists(dest))
            {
                Directory.Delete(dest, true);
            }
        }
    }

    [Fact]
    public void A_capture_keeps_the_ipv6_default_route_with_its_next_hop_zeroed_unless_asked()
    {
        string root = HardwareFixtures.Root("workstation");
        var sys = new SysfsRoot(Path.Combine(root, "sys"));
        var proc = new ProcfsRoot(Path.Combine(root, "proc"));

        IReadOnlyList<ArchiveEntry> plain = FixtureCapture.Capture(sys, proc, includePrivate: false, new DiscoveryWarnings());
        IReadOnlyList<ArchiveEntry> full = FixtureCapture.Capture(sys, proc, includePrivate: true, new DiscoveryWarnings());

        const string Zero32 = "00000000000000000000000000000000";
        Assert.Equal($"{Zero32} 00 {Zero32} 00 {Zero32} 00000400 00000001 00000000 00000003 enp2s0\n",
            System.Text.Encoding.UTF8.GetString(Assert.Single(plain, e => e.Path == "proc/net/ipv6_route").Content!));
        Assert.Contains("fe800000000000000000000000000001", System.Text.Encoding.UTF8.GetString(Assert.Single(full, e => e.Path == "proc/net/ipv6_route").Content!), StringComparison.Ordinal);
    }

    [Fact]
    public void A_capture_leaves_out_mac_addresses_unless_asked()
    {
        string root = HardwareFixtures.Root("workstation");
        var sys = new SysfsRoot(Path.Combine(root, "sys"));
        var proc = new ProcfsRoot(Path.Combine(root, "proc"));

        IReadOnlyList<ArchiveEntry> plain = FixtureCapture.Capture(sys, proc, includePrivate: false, new DiscoveryWarnings());
        IReadOnlyList<ArchiveEntry> full = FixtureCapture.Capture(sys, proc, includePrivate: true, new DiscoveryWarnings());

        Assert.DoesNotContain(plain, e => e.Path.EndsWith("/address", StringComparison.Ordinal));
        Assert.Contains(full, e => e.Path.EndsWith("/net/enp2s0/address", StringComparison.Ordinal));
    }

    [Fact]
    public void Uuids_on_the_kernel_command_line_are_redacted()
    {
        Assert.Equal("ro root=UUID=00000000-0000-0000-0000-000000000000 quiet", FixtureCapture.RedactCommandLine("ro root=UUID=3f2a1c4e-aaaa-bbbb-cccc-0123456789ab quiet"));
    }

    [Fact]
    public void Boot_interfaces_addresses_host_names_and_disk_ids_on_the_kernel_command_line_are_redacted()
    {
        const string Cmdline = "BOOT_IMAGE=/boot/vmlinuz-6.8.0-45-generic root=PARTUUID=5c1a9b2e-01 ro BOOTIF=01-0c-42-a1-b2-c3-d4 " +
            "ip=10.1.2.3::10.1.2.1:255.255.255.0:gpu-node-17.example.org:eth0:off hostname=gpu-node-17 ifname=bond0:0c:42:a1:b2:c3:d5 " +
            "netconsole=6665@10.0.0.9/eth0,6666@10.0.0.2/0c:42:a1:b2:c3:d6 resume=/dev/disk/by-id/nvme-SAMSUNG_S4EVNX0N123456 " +
            "nfsroot=10.1.2.1:/export/gpu-node-17 syslog=[fd00:1234::17]:514 ntp=ntp1.lab.example.org " +
            "intel_iommu=on iommu=pt isolcpus=2-55 hugepagesz=1G hugepages=64 ip6=dhcp\n";

        string redacted = FixtureCapture.RedactCommandLine(Cmdline);

        foreach (string secret in new[] { "0c-42", "0c:42", "10.1.2", "10.0.0", "gpu-node-17", "example.org", "5c1a9b2e", "S4EVNX", "fd00:1234" })
        {
            Assert.DoesNotContain(secret, redacted, StringComparison.OrdinalIgnoreCase);
        }

        foreach (string kept in new[] { "BOOT_IMAGE=/boot/vmlinuz-6.8.0-45-generic", "root=PARTUUID=00000000-0000-0000-0000-000000000000", "ro", "intel_iommu=on", "iommu=pt", "isolcpus=2-55", "hugepagesz=1G", "hugepages=64", "ip6=dhcp\n" })
        {
            Assert.Contains(kept, redacted.Split(' '));
        }

        Assert.Equal(Cmdline.Split(' ').Length, redacted.Split(' ').Length);
    }

    [Fact]
    public void Luks_md_zfs_and_systemd_host_identifiers_and_any_uuid_on_the_kernel_command_line_are_redacted()
    {
        const string Cmdline = "root=ZFS=tank/ROOT/secretname rd.luks.uuid=3f2a1b4c-1111-2222-3333-444455556666 rd.luks.uuid=luks-deadbeef-1111-2222-3333-444455556666 " +
            "rd.luks.name=3f2a1b4c-1111-2222-3333-444455556666=cryptvault rd.md.uuid=0a1b2c3d:4e5f6a7b:8c9d0e1f:2a3b4c5d systemd.hostname=hidden-host " +
            "hostname=hidden-host2 rd.lvm.lv=vgsecret/root systemd.machine_id=0123456789abcdef0123456789abcdef resume=deadbeef-1111-2222-3333-444455556666 isolcpus=2-55\n";

        string redacted = FixtureCapture.RedactCommandLine(Cmdline);

        foreach (string secret in new[] { "secretname", "3f2a1b4c", "deadbeef", "cryptvault", "0a1b2c3d", "hidden-host", "vgsecret", "0123456789abcdef" })
        {
            Assert.DoesNotContain(secret, redacted, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Equal(
            "root=ZFS=redacted rd.luks.uuid=redacted rd.luks.uuid=redacted rd.luks.name=redacted rd.md.uuid=redacted systemd.hostname=redacted " +
            "hostname=redacted rd.lvm.lv=redacted systemd.machine_id=redacted resume=00000000-0000-0000-0000-000000000000 isolcpus=2-55\n",
            redacted);
    }

    [Fact]
    public void An_interface_named_after_its_mac_is_renamed_alike_in_every_path_link_and_proc_file_unless_private_data_is_asked_for()
    {
        string root = HardwareFixtures.FreshCopy("workstation");
        string dest = Temp();
        try
        {
            const string Enx = "enx0c42a1b2c3d4";
            string pciNet = Path.Combine(root, "sys/devices/pci0000:00/0000:00:01.1/0000:02:00.0/net");
            Directory.Move(Path.Combine(pciNet, "enp2s0"), Path.Combine(pciNet, Enx));
            File.Delete(Path.Combine(root, "sys/class/net/enp2s0"));
            File.CreateSymbolicLink(Path.Combine(root, "sys/class/net", Enx), "../../devices/pci0000:00/0000:00:01.1/0000:02:00.0/net/" + Enx);
            string route = Path.Combine(root, "proc/net/route");
            File.WriteAllText(route, File.ReadAllText(route).Replace("enp2s0", Enx, StringComparison.Ordinal));
            File.WriteAllText(Path.Combine(root, "proc/cmdline"), $"ro netconsole=6665@10.0.0.9/{Enx},6666@10.0.0.2/ quiet\n");
            var sys = new SysfsRoot(Path.Combine(root, "sys"));
            var proc = new ProcfsRoot(Path.Combine(root, "proc"));

            IReadOnlyList<ArchiveEntry> entries = FixtureCapture.Capture(sys, proc, includePrivate: false, new DiscoveryWarnings());
            IReadOnlyList<ArchiveEntry> full = FixtureCapture.Capture(sys, proc, includePrivate: true, new DiscoveryWarnings());
            var text = new StringWriter();
            TextArchive.Write(text, entries, "test capture");
            TextArchive.Extract(TextArchive.Parse(new StringReader(text.ToString())), dest);

            Assert.DoesNotContain("0c42a1b2c3d4", text.ToString(), StringComparison.OrdinalIgnoreCase);
            Assert.Contains(entries, e => e.Path == "sys/class/net/enxredacted0" && e.LinkTarget == "../../devices/pci0000:00/0000:00:01.1/0000:02:00.0/net/enxredacted0");
            Assert.StartsWith("enxredacted0\t00000000", File.ReadAllText(Path.Combine(dest, "proc/net/route")).Split('\n')[1], StringComparison.Ordinal);
            Assert.Equal("ro netconsole=6665@0.0.0.0/enxredacted0,6666@0.0.0.0/ quiet\n", File.ReadAllText(Path.Combine(dest, "proc/cmdline")));
            Assert.Equal(Discover(root).HostNeeded.Keys, Discover(dest).HostNeeded.Keys);
            Assert.Contains(Discover(dest).HostNeeded.Values, reason => reason.Contains("enxredacted0 carries the default route", StringComparison.Ordinal));
            Assert.Contains(full, e => e.Path == "sys/class/net/" + Enx);
        }
        finally
        {
            Directory.Delete(root, true);
            if (Directory.Exists(dest))
            {
                Directory.Delete(dest, true);
            }
        }
    }

    [Fact]
    public void A_capture_keeps_the_targets_of_virtual_network_device_links_so_rediscovery_has_no_dangling_link()
    {
        string root = HardwareFixtures.FreshCopy("workstation");
        string dest = Temp();
        try
        {
            foreach (string dev in new[] { "lo", "ifb0" })
            {
                string dir = Path.Combine(root, "sys/devices/virtual/net", dev);
                Directory.CreateDirectory(dir);
                File.WriteAllText(Path.Combine(dir, "type"), dev == "lo" ? "772\n" : "1\n");
                File.WriteAllText(Path.Combine(dir, "mtu"), "65536\n");
                File.WriteAllText(Path.Combine(dir, "operstate"), "unknown\n");
                File.CreateSymbolicLink(Path.Combine(root, "sys/class/net", dev), "../../devices/virtual/net/" + dev);
            }

            IReadOnlyList<ArchiveEntry> entries = FixtureCapture.Capture(new SysfsRoot(Path.Combine(root, "sys")), new ProcfsRoot(Path.Combine(root, "proc")), includePrivate: false, new DiscoveryWarnings());
            var text = new StringWriter();
            TextArchive.Write(text, entries, "test capture");
            TextArchive.Extract(TextArchive.Parse(new StringReader(text.ToString())), dest);

            HostTopology original = Discover(root);
            HostTopology captured = Discover(dest);

            Assert.Empty(original.Warnings);
            Assert.Empty(captured.Warnings);
            Assert.Equal(original.NetDevices, captured.NetDevices);
            Assert.True(File.Exists(Path.Combine(dest, "sys/class/net/lo/mtu")));
        }
        finally
        {
            Directory.Delete(root, true);
            if (Directory.Exists(dest))
            {
                Directory.Delete(dest, true);
            }
        }
    }

    [Fact]
    public async Task A_fifo_in_place_of_proc_cpuinfo_is_skipped_with_a_warning_instead_of_hanging_the_capture()
    {
        string root = HardwareFixtures.FreshCopy("workstation");
        try
        {
            string cpuinfo = Path.Combine(root, "proc/cpuinfo");
            File.Delete(cpuinfo);
            using (Process mkfifo = Process.Start("mkfifo", [cpuinfo]))
            {
                await mkfifo.WaitForExitAsync();
                Assert.Equal(0, mkfifo.ExitCode);
            }

            var warnings = new DiscoveryWarnings();
            Task<IReadOnlyList<ArchiveEntry>> capture = Task.Factory.StartNew(
                () => FixtureCapture.Capture(new SysfsRoot(Path.Combine(root, "sys")), new ProcfsRoot(Path.Combine(root, "proc")), includePrivate: false, warnings),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

            // Generous: the capture takes well under a second; a hang would never end.
            Assert.Same(capture, await Task.WhenAny(capture, Task.Delay(TimeSpan.FromMinutes(2))));
            IReadOnlyList<ArchiveEntry> entries = await capture;
            Assert.DoesNotContain(entries, e => e.Path == "proc/cpuinfo");
            Assert.Contains(entries, e => e.Path == "proc/meminfo");
            Assert.Contains(warnings.Items, w => w.Path == "/proc/cpuinfo" && w.Message.Contains("not a regular file", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void The_archive_keeps_text_binary_empty_and_unterminated_files_and_links()
    {
        ArchiveEntry[] entries =
        [
            new("sys", ArchiveEntryKind.Directory, null, null, 0b111_101_101),
            new("sys/a", ArchiveEntryKind.File, "0x10de\n"u8.ToArray(), null, 0b100_100_100),
            new("sys/b", ArchiveEntryKind.File, [], null, 0b110_100_100),
            new("sys/c", ArchiveEntryKind.File, "no newline"u8.ToArray(), null, 0b100_100_100),
            new("sys/d", ArchiveEntryKind.File, [0xde, 0x10, 0x00, 0x23, 0xff], null, 0b100_100_100),
            new("sys/e", ArchiveEntryKind.File, "a\0b\n"u8.ToArray(), null, 0b100_100_100),
            new("sys/l", ArchiveEntryKind.Symlink, null, "a", 0),
        ];
        var text = new StringWriter();

        TextArchive.Write(text, entries, "round trip");
        IReadOnlyList<ArchiveEntry> back = TextArchive.Parse(new StringReader(text.ToString()));

        Assert.Equal(entries.Length, back.Count);
        for (int i = 0; i < entries.Length; i++)
        {
            Assert.Equal(entries[i].Path, back[i].Path);
            Assert.Equal(entries[i].Kind, back[i].Kind);
            Assert.Equal(entries[i].LinkTarget, back[i].LinkTarget);
            Assert.Equal(entries[i].Content ?? [], back[i].Content ?? []);
        }
    }

    [Theory]
    [InlineData("Path: ../etc/passwd\nLines: 1\nx\n")]
    [InlineData("Path: /etc/passwd\nLines: 1\nx\n")]
    [InlineData("Directory: sys/../..\n")]
    public void An_archive_path_that_leaves_the_tree_is_refused(string archive) =>
        Assert.Throws<InvalidDataException>(() => TextArchive.Parse(new StringReader(archive)));

    [Fact]
    public void An_archive_symlink_that_leaves_the_tree_is_refused()
    {
        IReadOnlyList<ArchiveEntry> entries = TextArchive.Parse(new StringReader("Path: sys/x\nSymlinkTo: ../../../../etc\n"));

        Assert.Throws<InvalidDataException>(() => TextArchive.Extract(entries, Temp()));
    }

    [Fact]
    public void The_shell_unpacker_and_the_csharp_reader_build_the_same_tree()
    {
        string shell = Temp();
        string script = Path.Combine(HardwareFixtures.RepositoryRoot, "tools", "fixture.sh");
        using (Process p = Process.Start(script, ["unpack", "workstation", shell]))
        {
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }

        try
        {
            HostTopology a = Discover(shell);
            HostTopology b = Discover(HardwareFixtures.Root("workstation"));

            Assert.Empty(a.Warnings);
            Assert.Equal(b.PciDevices, a.PciDevices, PciEquals);
            Assert.Equal(b.Cpus.Cpus, a.Cpus.Cpus);
        }
        finally
        {
            Directory.Delete(shell, true);
        }
    }

    private static readonly IEqualityComparer<Model.Pci.PciDevice> PciEquals = EqualityComparer<Model.Pci.PciDevice>.Create(
        (x, y) => x is not null && y is not null && x.Address == y.Address && x.VendorId == y.VendorId && x.Driver == y.Driver &&
                  x.NumaNode == y.NumaNode && x.IommuGroup == y.IommuGroup && Equals(x.LocalCpus, y.LocalCpus) && x.Link == y.Link &&
                  x.UpstreamBridges.SequenceEqual(y.UpstreamBridges) && x.ResetMethods.SequenceEqual(y.ResetMethods) &&
                  x.PhysicalFunction == y.PhysicalFunction && (x.Sriov?.NumVfs ?? -1) == (y.Sriov?.NumVfs ?? -1));
}
