using AiFactory.Host.Hardware.Capture;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Sysfs;

/// <summary>
/// A fixture root whose links lead out of it through a directory: <c>devices/evil -&gt; /tmp/…/outside/evil</c> and a
/// PCI link <c>bus/pci/devices/0000:05:00.0 -&gt; ../../../devices/evil/0000:05:00.0</c> whose own text stays inside.
/// Nothing outside the root may be read, with openat2 and with the realpath fallback, and the warning names the link.
/// </summary>
public sealed class SysfsRootContainmentTests : IDisposable
{
    private const string Outsider = "0000:05:00.0";
    private readonly string _root = HardwareFixtures.FreshCopy("workstation");
    private readonly string _outside = Directory.CreateTempSubdirectory("aifactory-outside-").FullName;

    public SysfsRootContainmentTests()
    {
        string gpu = Path.Combine(_outside, "evil", Outsider);
        Directory.CreateDirectory(gpu);
        File.WriteAllText(Path.Combine(gpu, "vendor"), "0x10de\n");
        File.WriteAllText(Path.Combine(gpu, "device"), "0x2330\n");
        File.WriteAllText(Path.Combine(gpu, "class"), "0x030200\n");
        File.WriteAllText(Path.Combine(gpu, "numa_node"), "0\n");
        File.CreateSymbolicLink(Path.Combine(_root, "sys/devices/evil"), Path.Combine(_outside, "evil"));
        File.CreateSymbolicLink(Path.Combine(_root, "sys/bus/pci/devices", Outsider), "../../../devices/evil/" + Outsider);
    }

    public void Dispose()
    {
        Directory.Delete(_root, true);
        Directory.Delete(_outside, true);
    }

    public static TheoryData<bool> Openat2 => new() { true, false };

    [Theory]
    [MemberData(nameof(Openat2))]
    public void A_device_behind_a_directory_link_out_of_the_root_is_not_read_and_is_named_in_a_warning(bool useOpenat2)
    {
        var warnings = new DiscoveryWarnings();

        IReadOnlyList<PciDevice> devices = PciDeviceReader.ReadAll(new SysfsRoot(Path.Combine(_root, "sys"), useOpenat2), warnings);

        Assert.DoesNotContain(devices, d => d.Address == PciAddress.Parse(Outsider));
        Assert.Contains(devices, d => d.Address == PciAddress.Parse("0000:01:00.0"));
        DiscoveryWarning w = Assert.Single(warnings.Items, w => w.Path.Contains(Outsider, StringComparison.Ordinal));
        Assert.Equal("/sys/bus/pci/devices/" + Outsider, w.Path);
        Assert.Contains("leaves the sysfs root", w.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Openat2))]
    public void A_directory_reached_through_a_link_out_of_the_root_is_neither_listed_nor_read(bool useOpenat2)
    {
        var root = new SysfsRoot(Path.Combine(_root, "sys"), useOpenat2);
        var warnings = new DiscoveryWarnings();

        IReadOnlyList<string> names = root.List("devices/evil", warnings);
        string? vendor = root.ReadAttribute("devices/evil/" + Outsider + "/vendor", warnings);

        Assert.Empty(names);
        Assert.Null(vendor);
        Assert.Contains(warnings.Items, w => w.Path == "/sys/devices/evil" && w.Message.Contains("leaves the sysfs root", StringComparison.Ordinal));
        Assert.False(root.Exists("devices/evil/" + Outsider));
    }

    [Theory]
    [MemberData(nameof(Openat2))]
    public void Links_that_stay_inside_the_root_still_resolve(bool useOpenat2)
    {
        var root = new SysfsRoot(Path.Combine(HardwareFixtures.Root("workstation"), "sys"), useOpenat2);
        var warnings = new DiscoveryWarnings();

        IReadOnlyList<PciDevice> devices = PciDeviceReader.ReadAll(root, warnings);

        Assert.Empty(warnings.Items);
        Assert.Equal(9, devices.Count);
        Assert.Equal("nvidia", devices.Single(d => d.Address == PciAddress.Parse("0000:01:00.0")).Driver);
    }

    [Fact]
    public void Discovery_of_the_whole_tree_reports_the_escape_and_keeps_the_rest()
    {
        HostTopology t = new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc")).Discover();

        Assert.Null(t.FindDevice(PciAddress.Parse(Outsider)));
        Assert.NotNull(t.FindDevice(PciAddress.Parse("0000:01:00.0")));
        Assert.Contains(t.Warnings, w => w.Path == "/sys/bus/pci/devices/" + Outsider && w.Message.Contains("leaves the sysfs root", StringComparison.Ordinal));
    }

    [Fact]
    public void A_capture_does_not_archive_files_from_outside_the_root()
    {
        var warnings = new DiscoveryWarnings();

        IReadOnlyList<ArchiveEntry> entries = FixtureCapture.Capture(new SysfsRoot(Path.Combine(_root, "sys")), new ProcfsRoot(Path.Combine(_root, "proc")), includePrivate: false, warnings);

        Assert.DoesNotContain(entries, e => e.Path.Contains("evil", StringComparison.Ordinal) || e.Path.Contains(Outsider, StringComparison.Ordinal));
        Assert.Contains(warnings.Items, w => w.Path == "/sys/bus/pci/devices/" + Outsider);
    }

    [Fact]
    public void A_symlink_loop_on_iommu_group_is_reported_as_a_loop_not_as_dangling()
    {
        string gpu = Path.Combine(_root, "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0");
        File.Delete(Path.Combine(gpu, "iommu_group"));
        File.CreateSymbolicLink(Path.Combine(gpu, "iommu_group"), "iommu_group");

        HostTopology t = new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc")).Discover();

        DiscoveryWarning w = Assert.Single(t.Warnings, w => w.Path.EndsWith("0000:01:00.0/iommu_group", StringComparison.Ordinal));
        Assert.Contains("symlink loop", w.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("dangling", w.Message, StringComparison.Ordinal);
    }
}
