using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Planning.Profile;
using AiFactory.Profile.Tests.Kernel;

namespace AiFactory.Profile.Tests.Configure;

public sealed class ProfileApplierTests : IDisposable
{
    private static readonly PciAddress Pf = PciAddress.Parse("0000:01:00.0");
    private static readonly PciAddress PlainNvme = PciAddress.Parse("0000:03:00.0");
    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly KernelSimulator _kernel;
    private readonly FakeModules _modules;
    private readonly FakeSystemctl _systemctl = new();

    public ProfileApplierTests()
    {
        _kernel = new KernelSimulator(_fs);
        _modules = new FakeModules(_fs);
    }

    public void Dispose()
    {
        _fs.Dispose();
        _systemctl.Dispose();
    }

    private ProfileApplier Applier(Action<int>? afterStep = null) =>
        new(new SysfsTree(_fs.Root), _kernel, null, new ProfileJournal(_fs.StateDir), new FakeVfioGroups(_fs), new Systemctl(_systemctl.Executable), _modules)
        {
            AfterStep = afterStep,
            ProbeTimeout = TimeSpan.FromSeconds(2),
            VfTimeout = TimeSpan.FromSeconds(2),
        };

    private ProfilePlan Plan(NodeProfile profile)
    {
        var reader = new ProfileStateReader(new SysfsTree(_fs.Root), new Systemctl(_systemctl.Executable));
        return ProfilePlanner.Plan(reader.ReadTopology(), reader.ReadState(profile), profile);
    }

    private static NodeProfile Lab(int numVfs = 2, long node1Pages = 100, string? extraVfio = null)
    {
        DeviceSelector.TryParse("0000:03:00.0", out DeviceSelector? nvme, out _);
        var devices = new List<DeviceSelector> { nvme! };
        if (extraVfio is not null && DeviceSelector.TryParse(extraVfio, out DeviceSelector? extra, out _))
        {
            devices.Add(extra);
        }

        return new NodeProfile
        {
            Vfio = new VfioProfile(devices, []),
            Sriov = [new SriovProfile(Pf, numVfs, false, "vfio-pci")],
            Hugepages = [new HugepageProfile(0, 2048, 64), new HugepageProfile(1, 2048, node1Pages)],
        };
    }

    [Fact]
    public void Applying_the_lab_profile_binds_creates_vfs_reserves_pages_and_removes_the_journal()
    {
        ProfilePlan plan = Plan(Lab());

        ApplyReport report = Applier().Apply(plan.Steps, "t1");

        Assert.True(report.Succeeded, report.Failure?.Message);
        Assert.Equal(["vfio-pci"], _modules.Loaded);
        Assert.Equal("vfio-pci", _fs.DriverOf(PlainNvme));
        Assert.Equal("vfio-pci", _fs.Read($"bus/pci/devices/{PlainNvme}/driver_override"));
        Assert.Equal("2", _fs.Read($"bus/pci/devices/{Pf}/sriov_numvfs"));
        Assert.Equal("vfio-pci", _fs.DriverOf(PciAddress.Parse("0000:01:00.1")));
        Assert.Equal("vfio-pci", _fs.DriverOf(PciAddress.Parse("0000:01:00.2")));
        Assert.Equal("100", _fs.Read("devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"));
        Assert.False(File.Exists(new ProfileJournal(_fs.StateDir).FilePath));
    }

    [Fact]
    public void Reapplying_a_profile_that_holds_writes_nothing()
    {
        Assert.True(Applier().Apply(Plan(Lab()).Steps, "t1").Succeeded);
        int writes = _kernel.WriteCount;

        ProfilePlan again = Plan(Lab());
        ApplyReport report = Applier().Apply(again.Steps, "t2");

        Assert.True(again.IsNoOp, string.Join("; ", again.Steps.Select(s => s.Describe())));
        Assert.Equal(0, report.Writes);
        Assert.Equal(writes, _kernel.WriteCount);
    }

    [Fact]
    public void Changing_the_vf_count_goes_through_zero_because_the_kernel_answers_ebusy_otherwise()
    {
        Assert.True(Applier().Apply(Plan(Lab(numVfs: 2)).Steps, "t1").Succeeded);

        ApplyReport report = Applier().Apply(Plan(Lab(numVfs: 3)).Steps, "t2");

        Assert.True(report.Succeeded, report.Failure?.Message);
        Assert.Contains($"bus/pci/devices/{Pf}/sriov_numvfs <- 0", _kernel.Log);
        Assert.Equal("3", _fs.Read($"bus/pci/devices/{Pf}/sriov_numvfs"));
        Assert.Throws<SysfsWriteException>(() => _kernel.Write($"bus/pci/devices/{Pf}/sriov_numvfs", "1"));
    }

    [Fact]
    public void A_hugepage_shortfall_is_reported_and_everything_this_apply_did_is_rolled_back()
    {
        string pages = "devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages";
        _kernel.HugepageLimit[pages] = 40;

        ApplyReport report = Applier().Apply(Plan(Lab()).Steps, "t1");

        Assert.False(report.Succeeded);
        Assert.Equal(pages, report.Failure!.File);
        Assert.Contains("asked 100, the kernel gave 40", report.Failure.Message);
        Assert.Equal("nvme", _fs.DriverOf(PlainNvme));
        Assert.Equal("(null)", _fs.Read($"bus/pci/devices/{PlainNvme}/driver_override"));
        Assert.Equal("0", _fs.Read($"bus/pci/devices/{Pf}/sriov_numvfs"));
        Assert.Equal("1", _fs.Read($"bus/pci/devices/{Pf}/sriov_drivers_autoprobe"));
        Assert.Equal("0", _fs.Read(pages));
        Assert.Equal("0", _fs.Read("devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"));
        Assert.False(File.Exists(new ProfileJournal(_fs.StateDir).FilePath));
    }

    [Fact]
    public void A_rollback_that_fails_keeps_the_journal_and_refuses_applies_until_a_recovery_undoes_everything()
    {
        string node0 = "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages";
        _kernel.HugepageLimit["devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"] = 40;
        _kernel.FailAlways[(node0, "0")] = 16; // EBUSY: the pages are in use

        ApplyReport report = Applier().Apply(Plan(Lab()).Steps, "t1");

        var journal = new ProfileJournal(_fs.StateDir);
        Assert.False(report.Succeeded);
        string failed = Assert.Single(report.RollbackErrors);
        Assert.StartsWith($"write 0 to {node0}: ", failed, StringComparison.Ordinal);
        Assert.Contains("errno 16", failed, StringComparison.Ordinal);
        Assert.Contains("FAILED " + failed, report.RolledBack);
        Assert.Equal(journal.FilePath, report.JournalKept);
        Assert.Equal("0", _fs.Read($"bus/pci/devices/{Pf}/sriov_numvfs"));
        Assert.Equal("64", _fs.Read(node0));
        JournalDocument kept = journal.Load();
        Assert.Equal("rollback-failed", kept.Phase);
        Assert.Equal([failed], kept.RollbackErrors);

        var refused = Assert.Throws<RollbackPendingException>(() => Applier().Apply(Plan(Lab()).Steps, "t2"));
        RecoveryReport stillFailing = Applier().Recover();
        Assert.Contains(journal.FilePath, refused.Message, StringComparison.Ordinal);
        Assert.Contains(failed, refused.Message, StringComparison.Ordinal);
        Assert.Single(stillFailing.Errors);
        Assert.True(journal.Exists);

        _kernel.FailAlways.Clear();
        _kernel.HugepageLimit.Clear();
        RecoveryReport recovered = Applier().Recover();

        Assert.Empty(recovered.Errors);
        Assert.Equal("rollback-failed", recovered.Phase);
        Assert.Equal("0", _fs.Read(node0));
        Assert.False(journal.Exists);
        Assert.True(Applier().Apply(Plan(Lab()).Steps, "t3").Succeeded);
    }

    [Fact]
    public void A_recovery_after_a_kill_whose_undo_fails_keeps_the_journal()
    {
        ProfilePlan plan = Plan(Lab());
        int stepOfVfs = plan.Steps.ToList().FindIndex(s => s is SetNumVfsStep);
        Assert.Throws<InvalidOperationException>(() => Applier(i => { if (i == stepOfVfs) throw new InvalidOperationException("killed"); }).Apply(plan.Steps, "crashed"));
        _kernel.FailAlways[($"bus/pci/devices/{Pf}/sriov_numvfs", "0")] = 16;

        RecoveryReport recovery = Applier().Recover();

        Assert.Contains(recovery.Errors, e => e.StartsWith($"set {Pf} sriov_numvfs back to 0: ", StringComparison.Ordinal));
        Assert.Equal("rollback-failed", new ProfileJournal(_fs.StateDir).Load().Phase);
        Assert.Equal("nvme", _fs.DriverOf(PlainNvme));
    }

    [Fact]
    public void Rolling_back_a_vf_count_change_gives_the_recreated_vfs_their_old_drivers_back()
    {
        Assert.True(Applier().Apply(Plan(Lab(numVfs: 2)).Steps, "t1").Succeeded);
        _kernel.HugepageLimit["devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"] = 150;

        ApplyReport report = Applier().Apply(Plan(Lab(numVfs: 3, node1Pages: 200)).Steps, "t2");

        Assert.False(report.Succeeded);
        Assert.Equal("2", _fs.Read($"bus/pci/devices/{Pf}/sriov_numvfs"));
        Assert.Equal("vfio-pci", _fs.DriverOf(PciAddress.Parse("0000:01:00.1")));
        Assert.Equal("vfio-pci", _fs.DriverOf(PciAddress.Parse("0000:01:00.2")));
        Assert.True(Plan(Lab(numVfs: 2)).IsNoOp);
    }

    [Fact]
    public void A_refused_write_reports_the_step_the_file_and_the_errno()
    {
        _kernel.FailNext["bus/pci/drivers_probe"] = 19;

        ApplyReport report = Applier().Apply(Plan(Lab()).Steps, "t1");

        Assert.False(report.Succeeded);
        Assert.Equal("bus/pci/drivers_probe", report.Failure!.File);
        Assert.Equal(19, report.Failure.Errno);
        Assert.Equal("nvme", _fs.DriverOf(PlainNvme));
    }

    [Fact]
    public void A_process_killed_mid_apply_is_rolled_back_from_the_journal_at_the_next_start()
    {
        ProfilePlan plan = Plan(Lab());
        int stepOfVfs = plan.Steps.ToList().FindIndex(s => s is SetNumVfsStep);

        // The crash: an exception no step handler catches, leaving the journal as a SIGKILL would.
        Assert.Throws<InvalidOperationException>(() => Applier(i => { if (i == stepOfVfs) throw new InvalidOperationException("killed"); }).Apply(plan.Steps, "crashed"));
        Assert.Equal("2", _fs.Read($"bus/pci/devices/{Pf}/sriov_numvfs"));
        Assert.True(new ProfileJournal(_fs.StateDir).Exists);

        RecoveryReport recovery = Applier().Recover();

        Assert.True(recovery.Found);
        Assert.Equal("crashed", recovery.ApplyId);
        Assert.Empty(recovery.Errors);
        Assert.Equal("0", _fs.Read($"bus/pci/devices/{Pf}/sriov_numvfs"));
        Assert.Equal("nvme", _fs.DriverOf(PlainNvme));
        Assert.False(new ProfileJournal(_fs.StateDir).Exists);
        Assert.Equal(RecoveryReport.None, Applier().Recover());
    }

    [Fact]
    public void A_damaged_journal_is_refused_with_what_to_do()
    {
        var journal = new ProfileJournal(_fs.StateDir);
        journal.Begin("x");
        File.WriteAllText(journal.FilePath, File.ReadAllText(journal.FilePath).Replace("applying", "complete", StringComparison.Ordinal));

        var ex = Assert.Throws<InvalidDataException>(() => Applier().Recover());

        Assert.Contains("checksum mismatch", ex.Message);
        Assert.Contains("remove the file", ex.Message);
        foreach (string cannotUndo in new[] { "driver_override", "sriov_numvfs", "nr_hugepages", "MIG", "AllowedCPUs", "nvidia-persistenced", "vfio-overrides.d" })
        {
            Assert.Contains(cannotUndo, ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_group_left_partly_on_a_host_driver_is_not_viable_and_the_bind_is_rolled_back()
    {
        // The planner would bind the whole group; a plan that binds only one member models a driver that took the other back.
        var steps = new List<ProfileStep>
        {
            new BindVfioStep(PciAddress.Parse("0000:05:01.0"), "e1000", null, null) { Field = "vfio" },
            new CheckVfioGroupStep(10) { Field = "vfio" },
        };
        Directory.CreateDirectory(_fs.P("bus/pci/drivers/vfio-pci"));

        ApplyReport report = Applier().Apply(steps, "t1");

        Assert.False(report.Succeeded);
        Assert.Contains("IOMMU group 10 is not viable", report.Failure!.Message);
        Assert.Contains("0000:05:02.0 (e1000)", report.Failure.Message);
        Assert.Equal("e1000", _fs.DriverOf(PciAddress.Parse("0000:05:01.0")));
    }

    [Fact]
    public void Host_cpus_are_set_on_the_three_units_through_systemctl_and_read_back()
    {
        var profile = new NodeProfile { Cpus = new CpuProfile(AiFactory.Host.Model.Cpu.CpuSet.Parse("0-1"), CpuProfile.DefaultUnits) };

        ApplyReport report = Applier().Apply(Plan(profile).Steps, "t1");

        Assert.True(report.Succeeded, report.Failure?.Message);
        Assert.Equal("0-1", _systemctl.AllowedCpus("system.slice"));
        Assert.Equal("0-1", _systemctl.AllowedCpus("init.scope"));
        Assert.Contains("set-property --runtime -- user.slice AllowedCPUs=0-1", _systemctl.Calls);
        Assert.True(Plan(profile).IsNoOp);
    }

    [Fact]
    public void Host_cpus_reset_to_all_cpus_read_back_unconfined_and_a_rollback_confines_them_again()
    {
        var reserved = new NodeProfile { Cpus = new CpuProfile(AiFactory.Host.Model.Cpu.CpuSet.Parse("0-1"), CpuProfile.DefaultUnits) };
        Assert.True(Applier().Apply(Plan(reserved).Steps, "t1").Succeeded);
        var reader = new ProfileStateReader(new SysfsTree(_fs.Root), new Systemctl(_systemctl.Executable));
        var removed = new NodeProfile();
        ProfilePlan reset = ProfilePlanner.Plan(reader.ReadTopology(), reader.ReadState(removed, CpuProfile.DefaultUnits) with { AppliedCpus = reserved.Cpus }, removed);
        _kernel.FailNext["devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"] = 12; // ENOMEM

        ApplyReport failed = Applier().Apply([.. reset.Steps, new SetHugepagesStep(0, 2048, 0, 16) { Field = "hugepages[0]" }], "t2");
        string[] afterRollback = [.. CpuProfile.DefaultUnits.Select(u => _systemctl.AllowedCpus(u) ?? "(never set)")];
        ApplyReport done = Applier().Apply(reset.Steps, "t3");

        Assert.Equal(["", "", ""], reset.Steps.OfType<SetAllowedCpusStep>().Select(s => s.To));
        Assert.False(failed.Succeeded);
        Assert.Equal(["0-1", "0-1", "0-1"], afterRollback);
        Assert.True(done.Succeeded, done.Failure?.Message);
        Assert.Equal(["", "", ""], CpuProfile.DefaultUnits.Select(u => _systemctl.AllowedCpus(u) ?? "(never set)"));
        Assert.Contains("set-property --runtime -- init.scope AllowedCPUs=", _systemctl.Calls);
        Assert.True(ProfilePlanner.Plan(reader.ReadTopology(), reader.ReadState(removed, CpuProfile.DefaultUnits) with { AppliedCpus = reserved.Cpus }, removed).IsNoOp);
    }

    [Fact]
    public void An_attribute_missing_when_its_step_runs_is_reported_with_the_file_and_enoent()
    {
        ProfilePlan plan = Plan(Lab());
        File.Delete(_fs.P($"bus/pci/devices/{Pf}/sriov_numvfs"));

        ApplyReport report = Applier().Apply(plan.Steps, "t1");

        Assert.False(report.Succeeded);
        Assert.Equal($"bus/pci/devices/{Pf}/sriov_numvfs", report.Failure!.File);
        Assert.Equal(2, report.Failure.Errno);
        Assert.Contains("is missing (errno 2, ENOENT)", report.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_real_writer_replaces_a_longer_value_in_a_regular_file_and_names_enoent_for_a_missing_one()
    {
        string pages = "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages";
        _fs.Write(pages, "4096");
        var writer = new SysfsWriter(_fs.Root);

        writer.Write(pages, "10");
        var missing = Assert.Throws<SysfsWriteException>(() => writer.Write("bus/pci/devices/0000:03:00.0/no_such_attribute", "1"));

        Assert.Equal("10", File.ReadAllText(_fs.P(pages)));
        Assert.Equal(2, missing.Errno);
        Assert.Equal("bus/pci/devices/0000:03:00.0/no_such_attribute", missing.AttributePath);
    }

    [Fact]
    public void An_override_file_not_named_as_the_kernel_names_the_device_does_not_count_as_persisted()
    {
        string dir = Path.Join(_fs.StateDir, "vfio-overrides.d");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Join(dir, "03:00.0"), "vfio-pci\n");
        File.WriteAllText(Path.Join(dir, "0000:81:00.0"), "vfio-pci\n");

        IReadOnlyDictionary<PciAddress, string> persisted = VfioOverrideFiles.Read(dir);

        Assert.Equal([PciAddress.Parse("0000:81:00.0")], persisted.Keys);
    }

    [Fact]
    public void Paths_that_leave_the_root_are_refused()
    {
        var writer = new SysfsWriter(_fs.Root);

        Assert.Throws<ArgumentException>(() => writer.Write("bus/pci/devices/../../../etc/passwd", "x"));
        Assert.Throws<ArgumentException>(() => writer.Write("/etc/passwd", "x"));
        Assert.Equal(0, writer.WriteCount);
    }
}
