using AiFactory.Agent.Events;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Pci;
using AiFactory.Profile.Tests.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Profile.Tests.Agent;

/// <summary>The boot re-apply: which profile, a device gone at boot, and what READY and aifactory-ready.target claim.</summary>
public sealed class ProfileStartTests : IDisposable
{
    private const string Node1Pages = "devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages";
    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly FakeSystemctl _systemctl = new();
    private readonly KernelSimulator _kernel;
    private readonly EventBus _bus = new();
    private readonly ProfileManager _manager;
    private readonly string _config;
    private readonly string _marker;

    public ProfileStartTests()
    {
        _kernel = new KernelSimulator(_fs);
        _config = Path.Join(Path.GetDirectoryName(_fs.Root)!, "etc", "node-profile.yaml");
        _marker = Path.Join(Path.GetDirectoryName(_fs.Root)!, "run", "profile-applied");
        Directory.CreateDirectory(Path.GetDirectoryName(_config)!);
        _manager = new ProfileManager(
            TestProfileEnvironment.For(_fs, _systemctl, _kernel) with { ProbeTimeout = TimeSpan.FromSeconds(5), ConfigProfilePath = _config, ReadyMarkerPath = _marker },
            _bus,
            NullLogger<ProfileManager>.Instance);
    }

    public void Dispose()
    {
        _fs.Dispose();
        _systemctl.Dispose();
    }

    [Fact]
    public void A_profile_applied_through_the_api_survives_a_restart_until_the_operators_file_changes()
    {
        const string etc = "version: v1\nvfio:\n  devices: [0000:03:00.0]\n";
        const string api = "version: v1\nvfio:\n  devices: [0000:03:00.0]\nhugepages:\n  - {node: 1, size: 2M, count: 32}\n";
        File.WriteAllText(_config, etc);
        Assert.True(_manager.ApplyAtStart().Applied);
        Assert.True(_manager.Apply(api, "api").Report.Succeeded);
        _kernel.Write(Node1Pages, "0"); // the reboot empties the pool

        ProfileStartStatus restart = _manager.ApplyAtStart();

        Assert.True(restart.Applied, restart.Line);
        Assert.Equal("32", _fs.Read(Node1Pages));
        Assert.Equal((api, _manager.Environment.StoredProfilePath), _manager.Stored());
        Assert.Contains(_bus.Recent(), e => e.Kind == "profile.applied" && e.Attributes["origin"] == "start:" + _manager.Environment.StoredProfilePath);

        File.WriteAllText(_config, etc + "hugepages:\n  - {node: 1, size: 2M, count: 8}\n");
        Assert.Equal(_config, _manager.Stored()!.Value.Source);
        Assert.True(_manager.ApplyAtStart().Applied);
        Assert.Equal("8", _fs.Read(Node1Pages));
        Assert.Equal(_manager.Environment.StoredProfilePath, _manager.Stored()!.Value.Source);
    }

    [Fact]
    public void Leases_plan_on_the_cpus_of_the_profile_applied_not_of_an_edited_file_that_was_not()
    {
        const string applied = "version: v1\ncpus:\n  reserved: 0-1\n";
        File.WriteAllText(_config, applied);
        Assert.True(_manager.ApplyAtStart().Applied);
        File.WriteAllText(_config, "version: v1\ncpus:\n  reserved: 2-3\n"); // edited, not applied (yet, or refused)

        Assert.Equal((applied, _manager.Environment.StoredProfilePath), _manager.InForce(applies: true));
        Assert.Equal(_config, _manager.Stored()!.Value.Source);
        Assert.Equal(_config, _manager.InForce(applies: false)!.Value.Source);
    }

    [Fact]
    public void With_nothing_applied_yet_leases_keep_off_the_cpus_the_operators_file_reserves()
    {
        File.WriteAllText(_config, "version: v1\ncpus:\n  reserved: 0-1\n");

        Assert.Equal(_config, _manager.InForce(applies: true)!.Value.Source);
    }

    [Fact]
    public void A_device_gone_at_boot_leaves_out_only_its_entry_and_keeps_its_boot_override()
    {
        File.WriteAllText(_config, "version: v1\nvfio:\n  devices: [0000:03:00.0, 0000:81:00.0]\nhugepages:\n  - {node: 1, size: 2M, count: 32}\n");
        Assert.True(_manager.ApplyAtStart().Applied);
        string overrides = Path.Join(_fs.StateDir, "vfio-overrides.d");
        // The reboot: the pool is empty and 0000:81:00.0 is not on the bus any more.
        _kernel.Write(Node1Pages, "0");
        Directory.Delete(_fs.P("bus/pci/devices/0000:81:00.0"), recursive: true);
        Directory.Delete(_fs.P("kernel/iommu_groups/12"), recursive: true);
        File.WriteAllText(_config, File.ReadAllText(_config) + "# edited\n");

        ProfileStartStatus status = _manager.ApplyAtStart();

        Assert.True(status.Applied, status.Line);
        Assert.Equal("32", _fs.Read(Node1Pages));
        Assert.Equal("vfio-pci", _fs.DriverOf(PciAddress.Parse("0000:03:00.0")));
        Assert.Equal(["0000:03:00.0", "0000:81:00.0"], Directory.GetFiles(overrides).Select(Path.GetFileName).Order());
        Assert.Contains("0000:81:00.0", status.Line, StringComparison.Ordinal);
        Assert.Contains(_bus.Recent(), e => e.Kind == "profile.warning" && e.Message.Contains("\"0000:81:00.0\" matches no device on this host at start", StringComparison.Ordinal));
    }

    [Fact]
    public void A_device_a_selector_no_longer_matches_at_boot_keeps_its_boot_override()
    {
        // vendor:device picks the three NVMe controllers, as nvidia-gpus picks every GPU.
        File.WriteAllText(_config, "version: v1\nvfio:\n  devices: [\"1b36:0010\"]\n");
        Assert.True(_manager.ApplyAtStart().Applied);
        string overrides = Path.Join(_fs.StateDir, "vfio-overrides.d");
        Assert.Contains("0000:81:00.0", Directory.GetFiles(overrides).Select(Path.GetFileName));
        Directory.Delete(_fs.P("bus/pci/devices/0000:81:00.0"), recursive: true);
        Directory.Delete(_fs.P("kernel/iommu_groups/12"), recursive: true);

        ProfileStartStatus status = _manager.ApplyAtStart();

        Assert.True(status.Applied, status.Line);
        Assert.Contains("0000:81:00.0", Directory.GetFiles(overrides).Select(Path.GetFileName));
        Assert.Contains("0000:81:00.0 is not on this host at start: its boot-time override (vfio-pci) is kept", status.Line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_refused_boot_profile_holds_the_ready_target_and_says_so()
    {
        File.WriteAllText(_config, "version: v1\nvfio:\n  devices: [0000:05:01.0]\n");

        ProfileStartStatus status = _manager.ApplyAtStart();

        Assert.False(status.Applied);
        Assert.StartsWith("node profile NOT applied, aifactory-ready.target held: refused: ", status.Line, StringComparison.Ordinal);
        Assert.Contains("a PCI bridge", status.Line, StringComparison.Ordinal);
        Assert.Equal(status, _manager.StartStatus);
        Assert.False(File.Exists(_marker));
    }

    [Fact]
    public void A_failed_boot_apply_or_a_damaged_journal_holds_the_ready_target_and_an_applied_one_reaches_it()
    {
        File.WriteAllText(_config, "version: v1\nhugepages:\n  - {node: 1, size: 2M, count: 32}\n");
        _kernel.HugepageLimit[Node1Pages] = 4;

        ProfileStartStatus failed = _manager.ApplyAtStart();

        Assert.False(failed.Applied);
        Assert.Contains("asked 32, the kernel gave 4", failed.Line, StringComparison.Ordinal);
        Assert.False(File.Exists(_marker));

        _kernel.HugepageLimit.Clear();
        ProfileStartStatus applied = _manager.ApplyAtStart();
        Assert.True(applied.Applied, applied.Line);
        Assert.True(File.Exists(_marker));

        var journal = new ProfileJournal(_fs.StateDir);
        journal.Begin("x");
        File.WriteAllText(journal.FilePath, "{");
        ProfileStartStatus damaged = _manager.ApplyAtStart();
        Assert.False(damaged.Applied);
        Assert.Contains("is unusable", damaged.Line, StringComparison.Ordinal);
        Assert.False(File.Exists(_marker));
    }

    [Fact]
    public void No_profile_at_all_reaches_the_ready_target()
    {
        ProfileStartStatus status = _manager.ApplyAtStart();

        Assert.Equal(ProfileStartStatus.None, status);
        Assert.True(File.Exists(_marker));
    }
}
