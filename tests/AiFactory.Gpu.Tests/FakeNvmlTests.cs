using System.Text.Json.Nodes;
using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Gpu.Tests;

[Collection("fake-nvml")]
public sealed class FakeNvmlTests
{
    private static readonly string[] DgxBusIds =
        ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"];

    [Fact]
    public void An_NVML_error_prints_its_name_without_the_library()
    {
        Assert.Equal("NVML_ERROR_IN_USE (the GPU is in use)", NvmlReturn.InUse.Describe());
        Assert.Equal("NVML_ERROR_ARGUMENT_VERSION_MISMATCH", NvmlReturn.ArgumentVersionMismatch.Describe());
    }

    [Fact]
    public void A_missing_library_leaves_the_agent_running_without_NVML()
    {
        INvml? nvml = NvmlLibrary.Handle == IntPtr.Zero ? NvmlLibrary.Open("/nonexistent/libnvidia-ml.so.1", out string? error) : NvmlLibrary.Open("/nonexistent/other.so", out error);

        Assert.Null(nvml);
        Assert.Contains("/nonexistent/", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_DGX_H100_inventory_lists_eight_GPUs_at_the_fixture_bus_ids_with_NUMA_NVLink_and_fabric()
    {
        using var server = new FakeServer("dgx-h100");

        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: true);

        Assert.Equal(DgxBusIds, gpus.Select(g => g.Address.ToString()));
        Assert.All(gpus, g => Assert.Equal("NVIDIA H100 80GB HBM3", g.Name));
        Assert.All(gpus, g => Assert.Equal(0x233010deu, g.PciDeviceId));
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1], gpus.Select(g => g.NumaNode ?? -1));
        Assert.Equal("0-55,112-167", gpus[0].CpuAffinity);
        Assert.Equal(18, gpus[0].NvLinks.Count(l => l.Active));
        Assert.Equal("0000:47:00.0", gpus[0].NvLinks[0].RemoteBusId);
        Assert.Equal("completed", gpus[0].Fabric!.State);
        Assert.All(gpus, g => Assert.True(g.InSysfs));
        Assert.NotNull(gpus[0].Serial);
        Assert.Equal(81559UL << 20, gpus[0].MemoryTotalBytes);
    }

    [Theory]
    [InlineData(0, "not-supported")]
    [InlineData(2, "in-progress")]
    public void A_GPU_not_registered_with_a_fabric_has_no_clique_instead_of_zeros(int state, string name)
    {
        // As the real H100 passed through to a KVM guest answers: SUCCESS, state NOT_SUPPORTED, the ids all zeros.
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["fabric"] = new JsonObject
        {
            ["state"] = state, ["status"] = 0, ["cliqueId"] = 0, ["healthMask"] = 0, ["clusterUuid"] = "00000000000000000000000000000000",
        });

        GpuDevice gpu = GpuApiService.ToProto(server.Inventory.Read(includeSerial: false)[0]);

        Assert.Equal(name, gpu.FabricState);
        // As aifactoryctl gpu list --json prints it (default values included).
        string json = new Google.Protobuf.JsonFormatter(Google.Protobuf.JsonFormatter.Settings.Default.WithFormatDefaultValues(true)).Format(gpu);
        Assert.DoesNotContain("fabricClique", json, StringComparison.Ordinal);
        Assert.Contains($"\"fabricState\": \"{name}\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void A_GPU_registered_with_a_fabric_names_its_cluster_and_clique()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["fabric"] = new JsonObject
        {
            ["state"] = 3, ["status"] = 0, ["cliqueId"] = 7, ["healthMask"] = 0, ["clusterUuid"] = "0123456789abcdef0123456789abcdef",
        });

        GpuDevice gpu = GpuApiService.ToProto(server.Inventory.Read(includeSerial: false)[0]);

        Assert.Equal("completed", gpu.FabricState);
        Assert.Equal("0123456789abcdef0123456789abcdef/7", gpu.FabricClique);
    }

    [Theory]
    [InlineData("dgx-h100")]
    [InlineData("hgx-a100")]
    [InlineData("gh200")]
    [InlineData("workstation")]
    public void Every_simulated_GPU_joins_an_NVIDIA_device_of_the_same_id_in_the_discovery_fixture(string fixture)
    {
        using var server = new FakeServer(fixture, captureTree: true);

        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: false);

        Assert.NotEmpty(gpus);
        foreach (GpuInfo gpu in gpus)
        {
            string dir = Path.Combine(server.SysfsRoot, "bus/pci/devices", gpu.Address.ToString());
            Assert.True(gpu.InSysfs, $"{gpu.Address} is not in the {fixture} sysfs fixture");
            Assert.Equal("0x10de", File.ReadAllText(Path.Combine(dir, "vendor")).Trim());
            Assert.Equal($"0x{gpu.PciDeviceId >> 16:x4}", File.ReadAllText(Path.Combine(dir, "device")).Trim());
            Assert.Equal(gpu.NumaNode ?? -1, int.Parse(File.ReadAllText(Path.Combine(dir, "numa_node")).Trim(), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(gpu.CpuAffinity, File.ReadAllText(Path.Combine(dir, "local_cpulist")).Trim());
        }
    }

    [Fact]
    public void The_MIG_profile_table_comes_from_NVML_with_its_placements()
    {
        using var server = new FakeServer("dgx-h100");
        INvml api = server.Nvml.Require();

        MigProfileTable table = MigReader.ReadProfiles(api, api.GetDevice(0));

        // Asked for by index (0, 7, 9, 1, 2, 3, 4), known by id afterwards: the ids a real H100 80GB reports.
        Assert.Equal(["1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"], table.Profiles.Select(p => p.Name));
        Assert.Equal([19u, 20, 15, 14, 9, 5, 0], table.Profiles.Select(p => p.Id));
        // Each profile's placements are its own (asked for by id, not by index: index 0 is id 0's neighbour 7g.80gb).
        Assert.Equal([0u, 1, 2, 3, 4, 5, 6], table.Find("1g.10gb")!.Placements.Select(p => p.Start));
        Assert.Equal([0u, 2, 4, 6], table.Find("1g.20gb")!.Placements.Select(p => p.Start));
        Assert.Equal([0u, 2, 4], table.Find("2g.20gb")!.Placements.Select(p => p.Start));
        Assert.Equal([0u, 4], table.Find("3g.40gb")!.Placements.Select(p => p.Start));
        Assert.Equal([(0u, 8u)], table.Find("7g.80gb")!.Placements.Select(p => (p.Start, p.Size)));
        Assert.Equal(7u, table.ComputeSlices);
        Assert.Equal(8u, table.MemorySlices);
    }

    [Theory]
    [InlineData("ARGUMENT_VERSION_MISMATCH")]
    [InlineData("INVALID_ARGUMENT")]
    public void A_driver_before_R545_refusing_the_v3_profile_info_struct_is_asked_again_with_v2(string refusal)
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["refuseProfileInfoV3"] = refusal;
            s["gpus"]![0]!["migMode"] = true;
        });
        INvml api = server.Nvml.Require();

        MigProfileTable table = MigReader.ReadProfiles(api, api.GetDevice(0));
        MigApplyResult applied = server.Applier.Apply("0", ["3g.40gb", "3g.40gb"], keepExisting: false);

        Assert.Equal(["1g.10gb", "1g.10gb+me", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"], table.Profiles.Select(p => p.Name));
        Assert.Equal([19u, 20, 15, 14, 9, 5, 0], table.Profiles.Select(p => p.Id));
        Assert.Equal([0u, 4], table.Find("3g.40gb")!.Placements.Select(p => p.Start));
        Assert.Equal(["3g.40gb@0:4", "3g.40gb@4:4"], applied.Final.Select(i => $"{i.Profile}@{i.Placement}"));
    }

    [Fact]
    public void Applying_a_mixed_layout_creates_instances_at_the_planned_placements_and_reapplying_changes_nothing()
    {
        using var server = new FakeServer("dgx-h100");
        server.Applier.SetMode("0000:18:00.0", enabled: true, reset: false, resetAllowed: true);

        MigApplyResult first = server.Applier.Apply("0000:18:00.0", ["3g.40gb", "2g.20gb", "1g.10gb", "1g.10gb"], keepExisting: false);
        MigApplyResult second = server.Applier.Apply("0", ["1g.10gb", "3g.40gb", "1g.10gb", "2g.20gb"], keepExisting: false);

        Assert.Equal(["1g.10gb@0:1", "1g.10gb@1:1", "2g.20gb@2:2", "3g.40gb@4:4"], first.Final.Select(i => $"{i.Profile}@{i.Placement}"));
        Assert.All(first.Final, i => Assert.Single(i.ComputeInstances));
        Assert.Equal(4, first.Steps.Count);
        Assert.Empty(second.Steps);
        Assert.True(second.Plan.IsNoChange);
    }

    [Fact]
    public void Changing_a_layout_keeps_the_instance_that_can_stay()
    {
        using var server = new FakeServer("dgx-h100");
        server.Applier.SetMode("1", enabled: true, reset: false, resetAllowed: true);
        MigApplyResult before = server.Applier.Apply("1", ["3g.40gb", "3g.40gb"], keepExisting: false);
        uint keptId = before.Final.Single(i => i.Placement.Start == 4).GpuInstanceId;

        MigApplyResult after = server.Applier.Apply("1", ["3g.40gb", "2g.20gb", "2g.20gb"], keepExisting: false);

        Assert.Single(after.Plan.Destroy);
        Assert.Contains(after.Final, i => i.GpuInstanceId == keptId && i.Placement.Start == 4);
        Assert.Equal(["2g.20gb@0:2", "2g.20gb@2:2", "3g.40gb@4:4"], after.Final.Select(i => $"{i.Profile}@{i.Placement}"));
    }

    [Fact]
    public void The_fake_driver_refuses_an_overlapping_placement_with_insufficient_resources()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true);
        INvml api = server.Nvml.Require();
        NvmlDevice gpu = api.GetDevice(0);
        MigProfileTable table = MigReader.ReadProfiles(api, gpu);
        api.CreateGpuInstance(gpu, table.Find("3g.40gb")!.Id, new NvmlPlacement(0, 4));

        var ex = Assert.Throws<NvmlException>(() => api.CreateGpuInstance(gpu, table.Find("2g.20gb")!.Id, new NvmlPlacement(2, 2)));

        Assert.Equal(NvmlReturn.InsufficientResources, ex.Code);
        Assert.Equal("nvmlDeviceCreateGpuInstanceWithPlacement", ex.Function);
    }

    [Fact]
    public void A_failed_compute_instance_create_leaves_no_orphaned_GPU_instance()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            s["gpus"]![0]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlGpuInstanceCreateComputeInstance", ["return"] = "INSUFFICIENT_RESOURCES", ["times"] = 1 });
        });

        var ex = Assert.Throws<InvalidOperationException>(() => server.Applier.Apply("0", ["7g.80gb"], keepExisting: false));

        Assert.Contains("the GPU instance was removed again", ex.Message, StringComparison.Ordinal);
        INvml api = server.Nvml.Require();
        Assert.Empty(MigReader.ReadInstances(api, api.GetDevice(0), MigReader.ReadProfiles(api, api.GetDevice(0))));
    }

    [Fact]
    public void An_orphaned_GPU_instance_found_on_the_GPU_is_removed_before_applying()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![2]!["migMode"] = true);
        INvml api = server.Nvml.Require();
        NvmlDevice gpu = api.GetDevice(2);
        api.CreateGpuInstance(gpu, MigReader.ReadProfiles(api, gpu).Find("2g.20gb")!.Id, new NvmlPlacement(2, 2)); // no compute instance

        MigApplyResult result = server.Applier.Apply("2", ["4g.40gb"], keepExisting: false);

        Assert.Equal(["2g.20gb@2:2 (GPU instance 1)"], result.OrphansRemoved);
        Assert.Equal(["4g.40gb@0:4"], result.Final.Select(i => $"{i.Profile}@{i.Placement}"));
    }

    [Fact]
    public void Changing_MIG_mode_is_refused_while_processes_use_the_GPU_naming_their_PIDs()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![3]!["processes"] = new JsonArray(new JsonObject { ["pid"] = 4242, ["usedMB"] = 1024 }, new JsonObject { ["pid"] = 4343, ["usedMB"] = 512 }));

        var ex = Assert.Throws<MigRefusedException>(() => server.Applier.SetMode("3", enabled: true, reset: true, resetAllowed: true));

        Assert.Equal("processes use 0000:5d:00.0: PID 4242, 4343; stop them before changing MIG mode", ex.Message);
        Assert.Equal((false, false), server.Nvml.Require().GetMigMode(server.Nvml.Require().GetDevice(3)));
    }

    [Fact]
    public void An_A100_reports_the_pending_reset_and_a_reset_touches_only_that_GPU()
    {
        using var server = new FakeServer("hgx-a100");

        MigModeResult pending = server.Applier.SetMode("0000:47:00.0", enabled: true, reset: false, resetAllowed: true);
        MigModeResult reset = server.Applier.SetMode("0000:47:00.0", enabled: true, reset: true, resetAllowed: true);

        Assert.True(pending.ResetRequired);
        Assert.False(pending.Enabled);
        Assert.True(pending.Pending);
        Assert.True(reset.ResetDone);
        Assert.True(reset.Enabled);
        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: false);
        Assert.Equal([false, false, true, false, false, false, false, false], gpus.Select(g => g.MigEnabled == true));
        Assert.All(gpus.Where(g => g.Address.ToString() != "0000:47:00.0"), g => Assert.Equal(string.Empty, File.ReadAllText(server.ResetFile(g.Address.ToString()))));
    }

    [Fact]
    public void Applying_on_a_GPU_with_MIG_disabled_is_refused_with_what_to_run()
    {
        using var server = new FakeServer("gh200");

        var ex = Assert.Throws<MigRefusedException>(() => server.Applier.Apply("0", ["3g.48gb"], keepExisting: false));

        Assert.Equal("MIG is not enabled on 0009:01:00.0 (aifactoryctl mig mode 0009:01:00.0 --enable)", ex.Message);
    }

    [Fact]
    public void A_workstation_GPU_without_MIG_is_listed_with_MIG_absent()
    {
        using var server = new FakeServer("workstation");

        GpuInfo gpu = Assert.Single(server.Inventory.Read(includeSerial: false));

        Assert.Null(gpu.MigEnabled);
        Assert.Throws<MigRefusedException>(() => server.Applier.SetMode("0", enabled: true, reset: false, resetAllowed: true));
    }

    [Fact]
    public void A_GPU_lost_before_the_agent_started_is_listed_unhealthy_at_the_address_sysfs_leaves_and_the_others_stay_healthy()
    {
        // nvmlDeviceGetHandleByIndex_v2 answers GPU_IS_LOST for it: NVML gives neither a handle nor a bus id.
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![5]!["lost"] = true);

        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: false);

        Assert.Equal(8, gpus.Count);
        Assert.Equal(GpuHealth.Unhealthy, gpus[5].Health);
        Assert.Equal("nvmlDeviceGetHandleByIndex_v2: NVML_ERROR_GPU_IS_LOST (the GPU fell off the bus or is inaccessible)", gpus[5].HealthReason);
        Assert.Equal(PciAddress.Parse("0000:ab:00.0"), gpus[5].Address); // the one nvidia-bound GPU of sysfs NVML gave no address for
        Assert.Equal(7, gpus.Count(g => g.Health == GpuHealth.Healthy));
    }

    [Fact]
    public void Two_lost_GPUs_are_two_rows_without_an_address_and_a_GPU_is_still_found_by_index()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![2]!["lost"] = true;
            s["gpus"]![5]!["lost"] = true;
        });

        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: false);

        Assert.Equal([2u, 5u], gpus.Where(g => g.Health == GpuHealth.Unhealthy).Select(g => g.Index));
        Assert.All(gpus.Where(g => g.Health == GpuHealth.Unhealthy), g => Assert.Equal(default, g.Address)); // NVML's index order is not the bus order
        Assert.Equal("", GpuApiService.ToProto(gpus[2]).BusId);
        Assert.Equal(PciAddress.Parse("0000:ba:00.0"), server.Inventory.Resolve("6").Address);
    }

    [Fact]
    public void A_GPU_lost_after_its_handle_was_taken_is_listed_with_its_address()
    {
        using var server = new FakeServer("dgx-h100");
        server.Inventory.Read(includeSerial: false);
        using var set = server.Nvml.Require().CreateEventSet();
        server.InjectEvent(5, NvmlEventTypes.GpuUnavailableError, 0); // the fake applies it when a wait reads it
        server.Nvml.Require().WaitForEvent(set, 10, out _);

        IReadOnlyList<GpuInfo> gpus = server.Inventory.Read(includeSerial: false);

        Assert.Equal(GpuHealth.Unhealthy, gpus[5].Health);
        Assert.Contains("NVML_ERROR_GPU_IS_LOST", gpus[5].HealthReason, StringComparison.Ordinal);
        Assert.Equal(7, gpus.Count(g => g.Health == GpuHealth.Healthy));
    }

    [Fact]
    public async Task A_fatal_XID_marks_the_GPU_unhealthy_with_an_event_and_a_recovery_returns_it_to_service()
    {
        using var server = new FakeServer("dgx-h100");
        using WatcherRun watcher = await WatcherRun.StartAsync(server);

        server.InjectEvent(4, NvmlEventTypes.XidCriticalError, 79);
        Event xid = await watcher.NextAsync();
        GpuHealth afterXid = server.Inventory.Read(false)[4].Health;
        IReadOnlySet<PciAddress> leasesAvoid = server.Health.Unhealthy();
        server.InjectEvent(4, NvmlEventTypes.XidCriticalError, 13);
        Event transient = await watcher.NextAsync();
        server.InjectEvent(4, NvmlEventTypes.GpuRecoveryAction, 0);
        Event recovered = await watcher.NextAsync();
        await watcher.StopAsync();

        Assert.Equal("gpu.xid", xid.Kind);
        Assert.Equal("0000:9a:00.0", xid.Subject);
        Assert.Equal("79", xid.Attributes["xid"]);
        Assert.Equal("fatal", xid.Attributes["class"]);
        Assert.Equal(EventSeverity.Error, xid.Severity);
        Assert.Equal(GpuHealth.Unhealthy, afterXid);
        Assert.Equal("transient", transient.Attributes["class"]);
        Assert.Equal("unhealthy", transient.Attributes["health"]);
        Assert.Equal("gpu.recovered", recovered.Kind);
        Assert.Equal(GpuHealth.Healthy, server.Inventory.Read(false)[4].Health);
        Assert.Equal([PciAddress.Parse("0000:9a:00.0")], leasesAvoid); // what the lease planner is told to skip
        Assert.Empty(server.Health.Unhealthy());
    }

    [Fact]
    public async Task A_GPU_falling_off_the_bus_while_watched_is_marked_lost_and_the_watcher_goes_on_to_see_the_next_XID()
    {
        using var server = new FakeServer("dgx-h100");
        using WatcherRun watcher = await WatcherRun.StartAsync(server);

        File.AppendAllText(server.EventsPath, "3 lost\n"); // nvmlEventSetWait_v2 answers GPU_IS_LOST, naming no GPU
        Event lost = await watcher.NextAsync();
        server.InjectEvent(5, NvmlEventTypes.XidCriticalError, 79);
        Event xid = await watcher.NextAsync();
        await watcher.StopAsync();

        Assert.Equal("gpu.unavailable", lost.Kind);
        Assert.Equal("0000:5d:00.0", lost.Subject);
        Assert.Equal("GPU 0000:5d:00.0: NVML cannot reach it, NVML_ERROR_GPU_IS_LOST (the GPU fell off the bus or is inaccessible)", lost.Message);
        Assert.Equal("gpu.xid", xid.Kind);
        Assert.Equal("0000:ab:00.0", xid.Subject);
        Assert.Equal(new HashSet<PciAddress> { PciAddress.Parse("0000:5d:00.0"), PciAddress.Parse("0000:ab:00.0") }, server.Health.Unhealthy());
    }
}
