using System.Diagnostics;
using System.Text.Json.Nodes;
using AiFactory.Agent.Events;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Profile;
using AiFactory.Profile.Tests.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Profile.Tests.Mig;

/// <summary>
/// The profile's <c>mig</c> section end to end through the agent's NVML layer, against the fake libnvidia-ml shaped
/// like a DGX H100 (profile tables from NVML; GPU 0 at 0000:18:00.0).
/// </summary>
[Collection("fake-nvml")]
public sealed class ProfileMigTests : IDisposable
{
    private const string Gpu0Layout = """
        version: v1
        mig:
          gpus:
            - gpu: 0
              layout: [3g.40gb, 2g.20gb, 1g.10gb]
        """;

    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly FakeSystemctl _systemctl = new();
    private readonly EventBus _bus = new();
    private FakeNvmlServer? _server;
    private ProfileManager? _manager;

    public void Dispose()
    {
        _server?.Dispose();
        _fs.Dispose();
        _systemctl.Dispose();
    }

    [Fact]
    public void Planning_a_layout_shows_the_mode_change_and_each_instance_and_changes_nothing()
    {
        ProfileManager manager = Start();

        ProfilePlan plan = manager.Plan(Gpu0Layout).Plan;

        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.Equal(
            [
                "GPU 0 (0000:18:00.0) MIG mode disabled -> enabled",
                "GPU 0 (0000:18:00.0) create MIG instance 2g.20gb@0:2",
                "GPU 0 (0000:18:00.0) create MIG instance 1g.10gb@2:1",
                "GPU 0 (0000:18:00.0) create MIG instance 3g.40gb@4:4",
            ],
            plan.Steps.Select(s => s.Describe()));
        Assert.False(_server!.MigEnabled(0));
        Assert.Equal(0, _server.Mig.WriteCount);
    }

    [Fact]
    public void Applying_a_layout_enables_MIG_on_that_GPU_only_and_creates_the_instances_read_back()
    {
        ProfileManager manager = Start(s => s["gpus"]![0]!["migModeChangeNeedsReset"] = true);

        ProfileApplyResult result = manager.Apply(Gpu0Layout, "test");

        Assert.True(result.Report.Succeeded, result.Report.Failure?.Message);
        Assert.True(_server!.MigEnabled(0));
        Assert.False(_server.MigEnabled(1));
        Assert.Equal(["2g.20gb@0:2", "1g.10gb@2:1", "3g.40gb@4:4"], _server.Instances(0).Select(i => $"{i.Profile}@{i.Placement}"));
        Assert.All(_server.Instances(0), i => Assert.False(i.IsOrphaned));
    }

    [Fact]
    public void Reapplying_a_layout_that_holds_writes_nothing()
    {
        ProfileManager manager = Start(s => s["gpus"]![0]!["migMode"] = true);
        manager.Apply(Gpu0Layout, "test");
        int nvmlWrites = _server!.Mig.WriteCount;

        ProfileApplyResult again = manager.Apply(Gpu0Layout, "test");

        Assert.Empty(again.Plan.Steps);
        Assert.Equal(0, again.Report.Writes);
        Assert.Equal(nvmlWrites, _server.Mig.WriteCount);
    }

    [Fact]
    public void A_layout_that_cannot_fit_is_refused_naming_the_GPU_and_the_profile_with_nothing_applied()
    {
        ProfileManager manager = Start();

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply("""
            version: v1
            mig:
              gpus:
                - gpu: 0000:18:00.0
                  layout: [7g.80gb, 1g.10gb]
            """, "test"));

        ProfileValidationError error = Assert.Single(ex.Errors);
        Assert.Equal("mig.gpus[0].layout", error.Field);
        Assert.Contains("GPU 0 (0000:18:00.0)", error.Reason);
        Assert.Contains("7g.80gb", error.Reason);
        Assert.False(_server!.MigEnabled(0));
        Assert.Equal(0, _server.Mig.WriteCount);
        Assert.Single(_bus.Recent(), e => e.Kind == "profile.refused");
    }

    [Fact]
    public void A_placement_the_GPU_does_not_offer_is_refused_naming_the_profile_and_the_starts_it_offers()
    {
        ProfileManager manager = Start(s => s["gpus"]![0]!["migMode"] = true);

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [3g.40gb@2]\n", "test"));

        Assert.Equal("mig.gpus[0].layout[0]", Assert.Single(ex.Errors).Field);
        Assert.Contains("3g.40gb@2 is not a placement GPU 0 (0000:18:00.0) offers", ex.Errors[0].Reason);
        Assert.Empty(_server!.Instances(0));
    }

    [Fact]
    public void An_explicit_placement_is_created_where_it_is_asked_and_an_instance_not_in_the_layout_is_destroyed()
    {
        ProfileManager manager = Start(s => s["gpus"]![0]!["migMode"] = true);
        manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [1g.10gb@0]\n", "test");

        ProfileApplyResult result = manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [3g.40gb@4]\n", "test");

        Assert.True(result.Report.Succeeded, result.Report.Failure?.Message);
        Assert.Equal(["GPU 0 (0000:18:00.0) destroy MIG instance 1g.10gb@0:1", "GPU 0 (0000:18:00.0) create MIG instance 3g.40gb@4:4"], result.Plan.Steps.Select(s => s.Describe()));
        MigInstance made = Assert.Single(_server!.Instances(0));
        Assert.Equal(new MigPlacement(4, 4), made.Placement);
    }

    [Fact]
    public void A_failure_midway_rolls_back_the_instances_already_made_and_the_mode()
    {
        // The second GPU-instance create fails in the driver (after one succeeded).
        ProfileManager manager = Start(s => s["gpus"]![0]!["failures"] = new JsonArray(new JsonObject
        {
            ["function"] = "nvmlDeviceCreateGpuInstanceWithPlacement",
            ["return"] = "INSUFFICIENT_RESOURCES",
            ["after"] = 1,
            ["times"] = 1,
        }));

        ProfileApplyResult result = manager.Apply(Gpu0Layout, "test");

        Assert.False(result.Report.Succeeded);
        Assert.Equal(2, result.Report.Failure!.Index);
        Assert.Contains("0000:18:00.0", result.Report.Failure.Message);
        Assert.Contains(result.Report.RolledBack, r => r.StartsWith("destroy MIG instance 2g.20gb@0:2 on 0000:18:00.0", StringComparison.Ordinal));
        Assert.Contains(result.Report.RolledBack, r => r.StartsWith("set 0000:18:00.0 MIG mode back to disabled", StringComparison.Ordinal));
        Assert.DoesNotContain(result.Report.RolledBack, r => r.StartsWith("FAILED", StringComparison.Ordinal));
        Assert.False(_server!.MigEnabled(0));
        Assert.Empty(_server.Instances(0));
        Assert.Single(_bus.Recent(), e => e.Kind == "profile.failed");
    }

    [Fact]
    public void A_failure_midway_recreates_a_destroyed_instance_with_exactly_the_compute_instances_it_had()
    {
        // The test's own GPU instance is the first create; the profile's create of 7g.80gb then fails once.
        ProfileManager manager = Start(s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            s["gpus"]![0]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlDeviceCreateGpuInstanceWithPlacement", ["return"] = "UNKNOWN", ["after"] = 1, ["times"] = 1 });
        });
        SplitThreeG();

        ProfileApplyResult result = manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [7g.80gb]\n", "test");

        Assert.False(result.Report.Succeeded);
        Assert.Contains("create MIG instance 3g.40gb@4:4 on 0000:18:00.0 again with compute instances [1@0:2,0@2:1]", result.Report.RolledBack);
        Assert.Empty(result.Report.RollbackErrors);
        Assert.Equal(["3g.40gb@4:4 [2c.3g.40gb@0:2, 1c.3g.40gb@2:1]"], Detailed());
    }

    [Fact]
    public void A_rollback_that_cannot_recreate_the_compute_instances_exactly_keeps_the_journal_as_rollback_failed_with_the_layout()
    {
        ProfileManager manager = Start(s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            s["gpus"]![0]!["failures"] = new JsonArray(
                new JsonObject { ["function"] = "nvmlDeviceCreateGpuInstanceWithPlacement", ["return"] = "UNKNOWN", ["after"] = 1, ["times"] = 1 },
                new JsonObject { ["function"] = "nvmlGpuInstanceCreateComputeInstanceWithPlacement", ["return"] = "INSUFFICIENT_RESOURCES", ["after"] = 1, ["times"] = 1 });
        });
        SplitThreeG();

        ProfileApplyResult result = manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [7g.80gb]\n", "test");

        Assert.False(result.Report.Succeeded);
        string failed = Assert.Single(result.Report.RollbackErrors);
        Assert.StartsWith("create MIG instance 3g.40gb@4:4 on 0000:18:00.0 again with compute instances [1@0:2,0@2:1]: ", failed, StringComparison.Ordinal);
        Assert.Contains("nvmlGpuInstanceCreateComputeInstanceWithPlacement failed: NVML_ERROR_INSUFFICIENT_RESOURCES", failed, StringComparison.Ordinal);
        Assert.Empty(Detailed()); // no partly filled GPU instance left behind
        var journal = new AiFactory.Host.Hardware.Configure.ProfileJournal(_fs.StateDir);
        Assert.Equal(journal.FilePath, result.Report.JournalKept);
        var kept = journal.Load();
        Assert.Equal("rollback-failed", kept.Phase);
        var undo = Assert.Single(Assert.Single(kept.Steps).Undo);
        Assert.Equal(("mig-create", "3g.40gb@4:4", "1@0:2,0@2:1"), (undo.Op, undo.Value, undo.Compute));

        // The next recovery (the driver no longer refuses) restores exactly that layout.
        var recovered = manager.Recover();
        Assert.Empty(recovered.Errors);
        Assert.Equal(["3g.40gb@4:4 [2c.3g.40gb@0:2, 1c.3g.40gb@2:1]"], Detailed());
    }

    /// <summary>A 3g.40gb at 4:4 on GPU 0 split by hand into a 2-slice and a 1-slice compute instance.</summary>
    private void SplitThreeG()
    {
        var api = _server!.Nvml.Nvml!;
        var device = api.GetDevice(0);
        var gi = api.CreateGpuInstance(device, AiFactory.Agent.Gpu.MigReader.ReadProfiles(api, device).Find("3g.40gb")!.Id, new AiFactory.Host.Hardware.Nvml.NvmlPlacement(4, 4));
        api.CreateComputeInstance(gi, 1); // NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE: slices 0-1
        api.CreateComputeInstance(gi, 0); // NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE: slice 2
        Assert.Equal(["3g.40gb@4:4 [2c.3g.40gb@0:2, 1c.3g.40gb@2:1]"], Detailed());
    }

    private IEnumerable<string> Detailed() => _server!.Instances(0)
        .Select(i => $"{i.Profile}@{i.Placement} [{string.Join(", ", i.ComputeInstances.OrderBy(c => c.Start).Select(c => $"{c.Profile}@{c.Start}:{c.Size}"))}]");

    [Fact]
    public void A_GPU_held_by_a_process_is_refused_naming_the_process()
    {
        ProfileManager manager = Start(s => s["gpus"]![0]!["processes"] = new JsonArray(new JsonObject { ["pid"] = 4242, ["usedMB"] = 1024 }));
        Directory.CreateDirectory(Path.Join(_server!.ProcfsRoot, "4242"));
        File.WriteAllText(Path.Join(_server.ProcfsRoot, "4242", "comm"), "python3\n");

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply(Gpu0Layout, "test"));

        Assert.Contains("GPU 0 (0000:18:00.0) is in use by PID 4242 (python3)", Assert.Single(ex.Errors).Reason);
        Assert.False(_server.MigEnabled(0));
    }

    [Fact]
    public void A_layout_named_in_an_imported_mig_parted_file_is_applied_to_the_GPUs_it_selects()
    {
        ProfileManager manager = Start(s => s["gpus"]![1]!["migMode"] = true);
        string parted = Path.Join(_server!.Root, "mig-parted.yaml");
        File.WriteAllText(parted, """
            version: v1
            mig-configs:
              all-disabled:
                - devices: all
                  mig-enabled: false
              two-3g:
                - devices: [1]
                  mig-enabled: true
                  mig-devices:
                    "3g.40gb": 2
            """);

        ProfileApplyResult result = manager.Apply($"version: v1\nmig:\n  partedConfig: {parted}\n  gpus:\n    - gpu: 1\n      config: two-3g\n", "test");

        Assert.True(result.Report.Succeeded, result.Report.Failure?.Message);
        Assert.Equal(["3g.40gb", "3g.40gb"], _server.Instances(1).Select(i => i.Profile));
        Assert.Empty(_server.Instances(0));
    }

    [Fact]
    public void A_layout_name_the_mig_parted_file_lacks_is_refused_with_the_names_it_has()
    {
        ProfileManager manager = Start();
        string parted = Path.Join(_server!.Root, "mig-parted.yaml");
        File.WriteAllText(parted, "version: v1\nmig-configs:\n  all-1g.10gb:\n    - devices: all\n      mig-enabled: true\n      mig-devices:\n        \"1g.10gb\": 7\n");

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply($"version: v1\nmig:\n  partedConfig: {parted}\n  gpus:\n    - gpu: 0\n      config: all-2g\n", "test"));

        Assert.Equal("mig.gpus[0].config", Assert.Single(ex.Errors).Field);
        Assert.Contains("(it has: all-1g.10gb)", ex.Errors[0].Reason);
    }

    [Fact]
    public void A_parted_config_outside_the_allowed_directories_is_refused_without_being_read()
    {
        ProfileManager manager = Start();

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply("version: v1\nmig:\n  partedConfig: /etc/shadow\n  gpus: []\n", "test"));

        ProfileValidationError error = Assert.Single(ex.Errors);
        Assert.Equal("mig.partedConfig", error.Field);
        Assert.Equal($"/etc/shadow: must be a file below {_server!.Root}/", error.Reason);
    }

    [Theory]
    [InlineData("/../../../../etc/shadow", "must not contain . or .. components")]
    [InlineData("/./mig-parted.yaml", "must not contain . or .. components")]
    public void A_parted_config_that_climbs_out_with_dots_is_refused(string suffix, string reason)
    {
        ProfileManager manager = Start();
        string path = _server!.Root + suffix;

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply($"version: v1\nmig:\n  partedConfig: {path}\n  gpus: []\n", "test"));

        Assert.Equal($"{path}: {reason}", Assert.Single(ex.Errors).Reason);
    }

    [Fact]
    public void A_symbolic_link_from_the_directory_to_a_file_outside_it_is_refused()
    {
        ProfileManager manager = Start();
        string outside = Path.Join(Directory.CreateDirectory(_fs.StateDir).FullName, "secret.yaml");
        File.WriteAllText(outside, "version: v1\nmig-configs: {}\n");
        string link = Path.Join(_server!.Root, "link.yaml");
        File.CreateSymbolicLink(link, outside);

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply($"version: v1\nmig:\n  partedConfig: {link}\n  gpus: []\n", "test"));

        Assert.Equal($"{link}: leads out of {_server.Root}/ (a symbolic link)", Assert.Single(ex.Errors).Reason);
    }

    [Fact]
    public void A_file_in_the_directory_that_is_no_mig_parted_config_is_named_by_line_and_column_never_quoted()
    {
        ProfileManager manager = Start();
        string shadow = Path.Join(_server!.Root, "shadow");
        File.WriteAllText(shadow, "root: \"*:20228:0:99999:7:::\"\ndaemon: \"*:20228:0:99999:7:::\"\n");

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply($"version: v1\nmig:\n  partedConfig: {shadow}\n  gpus: []\n", "test"));

        string reason = Assert.Single(ex.Errors).Reason;
        Assert.Equal($"{shadow}: line 1, column 1: unknown key; v1 has version and mig-configs", reason);
        Assert.DoesNotContain("20228", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_fifo_in_the_directory_is_refused_without_waiting_for_a_writer()
    {
        ProfileManager manager = Start();
        string fifo = Path.Join(_server!.Root, "fifo.yaml");
        using (Process mkfifo = Process.Start("mkfifo", [fifo]))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply($"version: v1\nmig:\n  partedConfig: {fifo}\n  gpus: []\n", "test"));

        Assert.Equal($"{fifo}: is not a regular file", Assert.Single(ex.Errors).Reason);
    }

    private ProfileManager Start(Action<JsonObject>? edit = null)
    {
        _server = new FakeNvmlServer("dgx-h100", edit);
        _manager = new ProfileManager(
            TestProfileEnvironment.For(_fs, _systemctl) with { Mig = _server.Mig, MigPartedDirectories = [_server.Root] },
            _bus,
            NullLogger<ProfileManager>.Instance);
        return _manager;
    }
}
