using AiFactory.Agent.Events;
using AiFactory.Agent.Profile;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Model.Pci;
using AiFactory.Profile.Tests.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Profile.Tests.Agent;

public sealed class ProfileManagerTests : IDisposable
{
    private const string LabProfile = """
        version: v1
        vfio:
          devices: [0000:03:00.0]
        hugepages:
          - {node: 1, size: 2M, count: 32}
        """;

    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly FakeSystemctl _systemctl = new();
    private readonly KernelSimulator _kernel;
    private readonly EventBus _bus = new();
    private readonly ProfileManager _manager;

    public ProfileManagerTests()
    {
        _kernel = new KernelSimulator(_fs);
        _manager = new ProfileManager(
            new ProfileEnvironment
            {
                Sysfs = new AiFactory.Host.Hardware.Configure.SysfsTree(_fs.Root),
                SysfsWriter = _kernel,
                StateDir = _fs.StateDir,
                Groups = new FakeVfioGroups(_fs),
                Systemctl = new Systemctl(_systemctl.Executable),
                Modules = new FakeModules(_fs),
                UdevRulesDir = Path.Join(_fs.StateDir, "udev"),
                ConfigProfilePath = Path.Join(_fs.StateDir, "absent.yaml"),
                ProbeTimeout = TimeSpan.FromSeconds(2),
            },
            _bus,
            NullLogger<ProfileManager>.Instance);
    }

    public void Dispose()
    {
        _fs.Dispose();
        _systemctl.Dispose();
    }

    [Fact]
    public void An_apply_publishes_its_outcome_stores_the_profile_and_writes_the_udev_rule()
    {
        ProfileApplyResult result = _manager.Apply(LabProfile, "test");

        Assert.True(result.Report.Succeeded);
        Event e = Assert.Single(_bus.Recent(), x => x.Kind == "profile.applied");
        Assert.Equal("test", e.Attributes["origin"]);
        Assert.Equal(LabProfile, File.ReadAllText(_manager.Environment.StoredProfilePath));
        Assert.Contains("KERNEL==\"0000:03:00.0\", ATTR{driver_override}=\"vfio-pci\"", File.ReadAllText(Path.Join(_fs.StateDir, "udev", "70-aifactory-vfio.rules")));
    }

    [Fact]
    public void A_change_made_by_hand_is_published_once_as_drift()
    {
        _manager.Apply(LabProfile, "test");
        _kernel.Write("bus/pci/devices/0000:03:00.0/driver/unbind", "0000:03:00.0");

        _manager.CheckDrift();
        _manager.CheckDrift();

        Event drift = Assert.Single(_bus.Recent(), x => x.Kind == "profile.drift");
        Assert.Contains("bind 0000:03:00.0 to vfio-pci", drift.Message);
    }

    [Fact]
    public void An_invalid_profile_is_refused_with_an_event_and_nothing_written()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => _manager.Apply("version: v1\nvfio:\n  devices: [0000:05:01.0]\n", "test"));

        Assert.Contains("a PCI bridge", ex.Message);
        Assert.Equal(0, _kernel.WriteCount);
        Assert.Single(_bus.Recent(), x => x.Kind == "profile.refused");
        Assert.False(File.Exists(_manager.Environment.StoredProfilePath));
    }

    [Fact]
    public void The_start_applies_the_stored_profile_after_finishing_an_interrupted_apply()
    {
        _manager.Apply(LabProfile, "test");
        _kernel.Write("bus/pci/devices/0000:03:00.0/driver/unbind", "0000:03:00.0");
        _kernel.Write("bus/pci/devices/0000:03:00.0/driver_override", "\n");
        _kernel.Write("bus/pci/drivers_probe", "0000:03:00.0");
        Assert.Equal("nvme", _fs.DriverOf(PciAddress.Parse("0000:03:00.0")));

        _manager.ApplyAtStart();

        Assert.Equal("vfio-pci", _fs.DriverOf(PciAddress.Parse("0000:03:00.0")));
        Assert.Contains(_bus.Recent(), x => x.Kind == "profile.applied" && x.Attributes["origin"].StartsWith("start:", StringComparison.Ordinal));
    }
}
