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
        }
        finally
        {
            Directory.Delete(dest, true);
        }
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
