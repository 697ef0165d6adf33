using System.Text.Json.Nodes;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// <c>aifactoryctl mig apply</c> on the daemon: refused while processes run on what it would destroy, and rolled back
/// when it fails midway; a rollback removes only instances the agent itself created.
/// </summary>
[Collection("fake-nvml")]
public sealed class MigApplyRollbackTests
{
    [Fact]
    public void An_apply_that_would_destroy_an_instance_a_process_runs_on_is_refused_naming_the_PID_and_changes_nothing()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            s["gpus"]![0]!["processes"] = new JsonArray(new JsonObject { ["pid"] = 4242, ["usedMB"] = 1024, ["gpuInstanceId"] = 1, ["computeInstanceId"] = 0 });
        });
        server.Applier.Apply("0", ["3g.40gb", "3g.40gb"], keepExisting: false); // GPU instances 1 and 2

        var ex = Assert.Throws<MigRefusedException>(() => server.Applier.Apply("0", ["7g.80gb"], keepExisting: false));

        Assert.Equal("processes run on instances this layout destroys on 0000:18:00.0: PID 4242 (GPU instance 1); stop them first; nothing was changed", ex.Message);
        Assert.Equal(["3g.40gb@0:4", "3g.40gb@4:4"], Layout(server));
    }

    [Fact]
    public void An_apply_failing_midway_destroys_what_it_created_and_creates_again_what_it_destroyed()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            // The first apply's two creates succeed, then the second apply's second create fails once.
            s["gpus"]![0]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlDeviceCreateGpuInstanceWithPlacement", ["return"] = "UNKNOWN", ["times"] = 1, ["after"] = 3 });
        });
        server.Applier.Apply("0", ["3g.40gb", "3g.40gb"], keepExisting: false);

        var ex = Assert.Throws<InvalidOperationException>(() => server.Applier.Apply("0", ["2g.20gb", "2g.20gb", "2g.20gb"], keepExisting: false));

        Assert.StartsWith("applying on 0000:18:00.0 failed (nvmlDeviceCreateGpuInstanceWithPlacement failed: NVML_ERROR_UNKNOWN", ex.Message, StringComparison.Ordinal);
        Assert.Contains("; rolled back: destroyed 2g.20gb@", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ROLLBACK FAILED", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["3g.40gb@0:4", "3g.40gb@4:4"], Layout(server));
        Assert.All(MigReader.ReadInstances(server.Nvml.Require(), server.Nvml.Require().GetDevice(0), Profiles(server)), i => Assert.False(i.IsOrphaned));
    }

    [Fact]
    public void A_rollback_that_cannot_recreate_what_it_destroyed_says_so()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            s["gpus"]![0]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlDeviceCreateGpuInstanceWithPlacement", ["return"] = "UNKNOWN", ["times"] = -1, ["after"] = 2 });
        });
        server.Applier.Apply("0", ["3g.40gb", "3g.40gb"], keepExisting: false);

        var ex = Assert.Throws<InvalidOperationException>(() => server.Applier.Apply("0", ["7g.80gb"], keepExisting: false));

        Assert.Contains("; ROLLBACK FAILED: creating 3g.40gb@", ex.Message, StringComparison.Ordinal);
        Assert.Contains("creating 3g.40gb@0:4 again with its compute instances [2@0:3]: nvmlDeviceCreateGpuInstanceWithPlacement failed: NVML_ERROR_UNKNOWN", ex.Message, StringComparison.Ordinal);
        Assert.Contains("creating 3g.40gb@4:4 again with its compute instances [2@0:3]: nvmlDeviceCreateGpuInstanceWithPlacement failed: NVML_ERROR_UNKNOWN", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("the GPU is left between layouts", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rollback_recreates_a_destroyed_GPU_instance_with_its_own_compute_instances_not_one_full_size_one()
    {
        // The test's own GPU instance is created first; the apply's create of 7g.80gb then fails once.
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            s["gpus"]![0]!["failures"] = new JsonArray(new JsonObject { ["function"] = "nvmlDeviceCreateGpuInstanceWithPlacement", ["return"] = "UNKNOWN", ["times"] = 1, ["after"] = 1 });
        });
        SplitThreeG(server);

        var ex = Assert.Throws<InvalidOperationException>(() => server.Applier.Apply("0", ["7g.80gb"], keepExisting: false));

        Assert.Contains("; rolled back: created 3g.40gb@4:4 again with its compute instances [1@0:2, 0@2:1] (GPU instance ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ROLLBACK FAILED", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["3g.40gb@4:4 [2c.3g.40gb@0:2, 1c.3g.40gb@2:1]"], Detailed(server));
    }

    [Fact]
    public void A_rollback_that_cannot_recreate_the_compute_instances_exactly_says_so_and_leaves_no_partial_instance()
    {
        using var server = new FakeServer("dgx-h100", s =>
        {
            s["gpus"]![0]!["migMode"] = true;
            s["gpus"]![0]!["failures"] = new JsonArray(
                new JsonObject { ["function"] = "nvmlDeviceCreateGpuInstanceWithPlacement", ["return"] = "UNKNOWN", ["times"] = 1, ["after"] = 1 },
                new JsonObject { ["function"] = "nvmlGpuInstanceCreateComputeInstanceWithPlacement", ["return"] = "INSUFFICIENT_RESOURCES", ["times"] = -1, ["after"] = 1 });
        });
        SplitThreeG(server);

        var ex = Assert.Throws<InvalidOperationException>(() => server.Applier.Apply("0", ["7g.80gb"], keepExisting: false));

        Assert.Contains("; ROLLBACK FAILED: creating 3g.40gb@4:4 again with its compute instances [1@0:2, 0@2:1]: creating the compute instances [1@0:2, 0@2:1] of 3g.40gb@4:4 on 0000:18:00.0 failed (nvmlGpuInstanceCreateComputeInstanceWithPlacement failed: NVML_ERROR_INSUFFICIENT_RESOURCES", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("the GPU is left between layouts", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Detailed(server));
    }

    [Fact]
    public void Undoing_a_create_that_failed_destroys_nothing_even_where_another_party_has_an_instance()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true);
        INvml api = server.Nvml.Require();
        NvmlDevice gpu = api.GetDevice(0);
        var mig = new ProfileMig(server.Nvml, server.Inventory, server.Applier, Path.Combine(server.Root, "proc"));
        var at = new MigPlacement(4, 4);
        api.CreateGpuInstance(gpu, Profiles(server).Find("3g.40gb")!.Id, new NvmlPlacement(4, 4)); // another party's, still without its compute instance

        Assert.ThrowsAny<IOException>(() => mig.Create(PciAddress.Parse("0000:18:00.0"), "3g.40gb", at));
        string undo = mig.Destroy(PciAddress.Parse("0000:18:00.0"), "3g.40gb", at); // the rollback's inverse of that create

        Assert.Equal("nothing to destroy: creating 3g.40gb@4:4 on 0000:18:00.0 failed, so nothing was created there", undo);
        Assert.Equal(["3g.40gb@4:4"], Layout(server));
    }

    [Fact]
    public void A_profile_with_a_pinned_placement_is_refused_by_mig_plan_with_what_to_give_instead()
    {
        var ex = Assert.Throws<AiFactory.Grpc.RpcException>(() => GpuApiService.Profiles(["3g.40gb@0", "3g.40gb@4"]));

        Assert.Equal(AiFactory.Grpc.StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("profiles: \"3g.40gb@0\" pins a placement, which mig plan/apply do not take (they choose placements); give \"3g.40gb\", or pin it in a node profile's mig layout (aifactoryctl profile apply)", ex.Detail);
    }

    [Fact]
    public void A_profile_name_too_long_to_be_one_is_refused_shortened_instead_of_echoed_whole()
    {
        string huge = new('x', 3_000_000);

        var ex = Assert.Throws<AiFactory.Grpc.RpcException>(() => GpuApiService.Profiles(["1g.10gb", huge]));

        Assert.Equal(AiFactory.Grpc.StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal($"profiles: \"{new string('x', 32)}…\" is 3000000 characters long; a MIG profile name has at most 64", ex.Detail);
        Assert.Equal(["1g.10gb+me"], GpuApiService.Profiles(["1g.10gb+me"]));
    }

    /// <summary>A 3g.40gb at 4:4 split by hand into a 2-slice and a 1-slice compute instance (ids 1 and 0).</summary>
    private static void SplitThreeG(FakeServer server)
    {
        INvml api = server.Nvml.Require();
        NvmlGpuInstance gi = api.CreateGpuInstance(api.GetDevice(0), Profiles(server).Find("3g.40gb")!.Id, new NvmlPlacement(4, 4));
        api.CreateComputeInstance(gi, 1); // NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE: slices 0-1
        api.CreateComputeInstance(gi, 0); // NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE: slice 2
        Assert.Equal(["3g.40gb@4:4 [2c.3g.40gb@0:2, 1c.3g.40gb@2:1]"], Detailed(server));
    }

    private static IEnumerable<string> Detailed(FakeServer server) =>
        MigReader.ReadInstances(server.Nvml.Require(), server.Nvml.Require().GetDevice(0), Profiles(server))
            .Select(i => $"{i.Profile}@{i.Placement} [{string.Join(", ", i.ComputeInstances.OrderBy(c => c.Start).Select(c => $"{c.Profile}@{c.Start}:{c.Size}"))}]");

    private static MigProfileTable Profiles(FakeServer server) => MigReader.ReadProfiles(server.Nvml.Require(), server.Nvml.Require().GetDevice(0));

    private static IEnumerable<string> Layout(FakeServer server) =>
        MigReader.ReadInstances(server.Nvml.Require(), server.Nvml.Require().GetDevice(0), Profiles(server)).Select(i => $"{i.Profile}@{i.Placement}");
}
