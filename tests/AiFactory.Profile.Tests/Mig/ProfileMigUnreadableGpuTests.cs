using System.Text.Json.Nodes;
using AiFactory.Agent.Events;
using AiFactory.Agent.Profile;
using AiFactory.Host.Model.Profile;
using AiFactory.Profile.Tests.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Profile.Tests.Mig;

/// <summary>
/// One GPU of a DGX H100 whose MIG state NVML cannot read (a query failing, or the GPU lost with no handle): the
/// profile's mig section still plans and applies on the other GPUs, and an entry that selects the unreadable one is
/// refused naming it and NVML's error.
/// </summary>
[Collection("fake-nvml")]
public sealed class ProfileMigUnreadableGpuTests : IDisposable
{
    private const string Gpu0Layout = "version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [3g.40gb, 2g.20gb, 1g.10gb]\n";

    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly FakeSystemctl _systemctl = new();
    private FakeNvmlServer? _server;

    public void Dispose()
    {
        _server?.Dispose();
        _fs.Dispose();
        _systemctl.Dispose();
    }

    [Fact]
    public void A_GPU_whose_MIG_mode_cannot_be_read_is_reported_alone_and_the_others_are_read()
    {
        Start(FailingMigMode(2));

        (IReadOnlyList<MigGpuState> gpus, IReadOnlyList<MigGpuUnreadable> unreadable, string? unavailable) = _server!.Mig.Read();

        Assert.Null(unavailable);
        Assert.Equal([0, 1, 3, 4, 5, 6, 7], gpus.Select(g => g.Index));
        MigGpuUnreadable gpu2 = Assert.Single(unreadable);
        Assert.Equal("GPU 2 (0000:3a:00.0)", gpu2.Name);
        Assert.Contains("nvmlDeviceGetMigMode", gpu2.Error, StringComparison.Ordinal);
        Assert.Contains("NVML_ERROR_UNKNOWN", gpu2.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_layout_on_another_GPU_is_planned_and_applied_while_one_GPU_cannot_be_read()
    {
        ProfileManager manager = Start(FailingMigMode(2));

        ProfileApplyResult result = manager.Apply(Gpu0Layout, "test");

        Assert.True(result.Report.Succeeded, result.Report.Failure?.Message);
        Assert.Equal(["2g.20gb@0:2", "1g.10gb@2:1", "3g.40gb@4:4"], _server!.Instances(0).Select(i => $"{i.Profile}@{i.Placement}"));
    }

    [Theory]
    [InlineData("2")]
    [InlineData("0000:3a:00.0")]
    [InlineData("nvidia-gpus")]
    public void An_entry_that_selects_the_unreadable_GPU_is_refused_naming_it_and_the_NVML_error(string selector)
    {
        ProfileManager manager = Start(FailingMigMode(2));

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply($"version: v1\nmig:\n  gpus:\n    - gpu: {selector}\n      layout: [7g.80gb]\n", "test"));

        ProfileValidationError error = Assert.Single(ex.Errors);
        Assert.Equal("mig.gpus[0].gpu", error.Field);
        Assert.Contains("GPU 2 (0000:3a:00.0), whose MIG state cannot be read (nvmlDeviceGetMigMode", error.Reason, StringComparison.Ordinal);
        Assert.Equal(0, _server!.Mig.WriteCount);
        Assert.False(_server.MigEnabled(0));
    }

    [Fact]
    public void A_lost_GPU_without_a_handle_refuses_only_the_entry_that_selects_it()
    {
        ProfileManager manager = Start(s => s["gpus"]![5]!["lost"] = true);

        ProfilePlan plan = manager.Plan("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [7g.80gb]\n    - gpu: 5\n      layout: [7g.80gb]\n").Plan;

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("mig.gpus[1].gpu", error.Field);
        Assert.Contains("GPU 5, whose MIG state cannot be read (", error.Reason, StringComparison.Ordinal);
        Assert.Contains("GPU_IS_LOST", error.Reason, StringComparison.Ordinal);
        ProfilePlan gpu0Only = manager.Plan("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [7g.80gb]\n").Plan;
        Assert.True(gpu0Only.IsValid, string.Join("; ", gpu0Only.Errors));
        Assert.Contains("GPU 0 (0000:18:00.0) create MIG instance 7g.80gb@0:8", gpu0Only.Steps.Select(s => s.Describe()));
    }

    private static Action<JsonObject> FailingMigMode(int gpu) => s => s["gpus"]![gpu]!["failures"] = new JsonArray(new JsonObject
    {
        ["function"] = "nvmlDeviceGetMigMode",
        ["return"] = "UNKNOWN",
        ["times"] = -1,
    });

    private ProfileManager Start(Action<JsonObject>? edit = null)
    {
        _server = new FakeNvmlServer("dgx-h100", edit);
        return new ProfileManager(
            TestProfileEnvironment.For(_fs, _systemctl) with { Mig = _server.Mig, MigPartedDirectories = [_server.Root] },
            new EventBus(),
            NullLogger<ProfileManager>.Instance);
    }
}
