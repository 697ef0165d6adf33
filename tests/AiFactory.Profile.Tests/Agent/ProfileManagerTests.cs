using AiFactory.Agent.Events;
using AiFactory.Agent.Profile;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
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
            TestProfileEnvironment.For(_fs, _systemctl, _kernel) with { ProbeTimeout = TimeSpan.FromSeconds(2) },
            _bus,
            NullLogger<ProfileManager>.Instance);
    }

    public void Dispose()
    {
        _fs.Dispose();
        _systemctl.Dispose();
    }

    [Fact]
    public void An_apply_publishes_its_outcome_stores_the_profile_and_persists_the_override_for_boot()
    {
        ProfileApplyResult result = _manager.Apply(LabProfile, "test");

        Assert.True(result.Report.Succeeded);
        Event e = Assert.Single(_bus.Recent(), x => x.Kind == "profile.applied");
        Assert.Equal("test", e.Attributes["origin"]);
        Assert.Equal(LabProfile, File.ReadAllText(_manager.Environment.StoredProfilePath));
        Assert.Equal("vfio-pci\n", File.ReadAllText(Path.Join(_fs.StateDir, "vfio-overrides.d", "0000:03:00.0")));
        Assert.Contains(result.Plan.Steps, s => s is PersistVfioOverrideStep { To: "vfio-pci" });
    }

    [Fact]
    public void A_profile_without_the_cpus_section_unconfines_the_units_the_one_applied_last_confined()
    {
        _manager.Apply("version: v1\ncpus:\n  reserved: 0-1\n", "test");
        Assert.Equal("0-1", _systemctl.AllowedCpus("system.slice"));

        ProfileApplyResult removed = _manager.Apply("version: v1\n", "test");

        Assert.True(removed.Report.Succeeded, removed.Report.Failure?.Message);
        Assert.Equal(["system.slice", "user.slice", "init.scope"], removed.Plan.Steps.OfType<SetAllowedCpusStep>().Where(s => s.To.Length == 0).Select(s => s.Unit));
        Assert.Equal(["", "", ""], CpuProfile.DefaultUnits.Select(u => _systemctl.AllowedCpus(u) ?? "(never set)"));
        Assert.True(_manager.Apply("version: v1\n", "test").Plan.IsNoOp);
    }

    [Fact]
    public void A_device_left_out_of_the_vfio_section_loses_its_boot_override_and_a_rollback_brings_it_back()
    {
        _manager.Apply("version: v1\nvfio:\n  devices: [0000:03:00.0, 0000:81:00.0]\n", "test");
        string overrides = Path.Join(_fs.StateDir, "vfio-overrides.d");
        Assert.Equal(["0000:03:00.0", "0000:81:00.0"], Directory.GetFiles(overrides).Select(Path.GetFileName).Order());

        ProfileApplyResult narrowed = _manager.Apply(LabProfile, "test");
        _kernel.FailNext["devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"] = 12; // ENOMEM
        ProfileApplyResult failed = _manager.Apply("version: v1\nvfio:\n  devices: []\nhugepages:\n  - {node: 0, size: 2M, count: 16}\n", "test");

        Assert.Contains(narrowed.Plan.Steps, s => s is PersistVfioOverrideStep { To: null } p && p.Address.ToString() == "0000:81:00.0");
        Assert.False(failed.Report.Succeeded);
        Assert.Contains(failed.Report.RolledBack, r => r.StartsWith("persist 0000:03:00.0 -> vfio-pci for boot again", StringComparison.Ordinal));
        Assert.Equal(["0000:03:00.0"], Directory.GetFiles(overrides).Select(Path.GetFileName));
    }

    [Fact]
    public void A_failed_rollback_is_returned_to_the_caller_and_refuses_the_next_apply_until_recover_succeeds()
    {
        string node1 = "devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages";
        _kernel.HugepageLimit[node1] = 10;
        _kernel.FailAlways[(node1, "0")] = 16;
        var api = new ProfileApiService(_manager, new AiFactory.Agent.HostCapabilities(new AiFactory.Agent.Configuration.AgentOptions(), privileged: true, _ => false));

        ApplyProfileResponse response = api.Apply(new ApplyProfileRequest { Yaml = LabProfile });

        Assert.False(response.Succeeded);
        Assert.Contains(response.RollbackErrors, e => e.StartsWith($"write 0 to {node1}: ", StringComparison.Ordinal));
        Assert.Equal(new AiFactory.Host.Hardware.Configure.ProfileJournal(_fs.StateDir).FilePath, response.Journal);
        Assert.Contains("rollback FAILED", Assert.Single(_bus.Recent(), x => x.Kind == "profile.failed").Message, StringComparison.Ordinal);
        var refused = Assert.Throws<AiFactory.Grpc.RpcException>(() => api.Apply(new ApplyProfileRequest { Yaml = LabProfile }));
        Assert.Equal(AiFactory.Grpc.StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains($"write 0 to {node1}", refused.Detail, StringComparison.Ordinal);

        _kernel.FailAlways.Clear();
        _kernel.HugepageLimit.Clear();
        Assert.Empty(_manager.Recover().Errors);
        Assert.True(_manager.Apply(LabProfile, "test").Report.Succeeded);
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
        Assert.Equal("bind", drift.Attributes["kinds"]);
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
