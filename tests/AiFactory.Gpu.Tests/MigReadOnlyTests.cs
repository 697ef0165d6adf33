using AiFactory.Agent;
using AiFactory.Agent.Configuration;
using AiFactory.Agent.Gpu;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Nvml;

namespace AiFactory.Gpu.Tests;

/// <summary>Who may change MIG through the Gpu service: never an agent asked to be read-only.</summary>
[Collection("fake-nvml")]
public sealed class MigReadOnlyTests
{
    private const string Gpu0 = "0000:18:00.0";

    [Fact]
    public void An_agent_asked_to_be_read_only_changes_no_MIG_mode_and_no_layout_even_on_the_fake_library()
    {
        using var server = new FakeServer("dgx-h100");
        GpuApiService service = Service(server, new AgentOptions { ReadOnly = true, SysfsRoot = server.SysfsRoot });

        RpcException mode = Assert.Throws<RpcException>(() => service.SetMigMode(new SetMigModeRequest { Gpu = Gpu0, Enabled = true }));
        RpcException apply = Assert.Throws<RpcException>(() => service.ApplyMig(new ApplyMigRequest { Gpu = Gpu0, Profiles = { "3g.40gb" } }));

        Assert.Equal(StatusCode.FailedPrecondition, mode.StatusCode);
        Assert.Equal("the agent is read-only (read-only: true was asked for): no MIG change made", mode.Detail);
        Assert.Equal(StatusCode.FailedPrecondition, apply.StatusCode);
        Assert.False(MigEnabled(server), "MIG mode changed on a read-only agent");
    }

    [Fact]
    public void The_fake_library_on_a_fixture_tree_may_change_MIG_when_read_only_was_not_asked_for()
    {
        using var server = new FakeServer("dgx-h100");
        GpuApiService service = Service(server, new AgentOptions { SysfsRoot = server.SysfsRoot });

        SetMigModeResponse response = service.SetMigMode(new SetMigModeRequest { Gpu = Gpu0, Enabled = true });

        Assert.True(response.MigEnabled);
        Assert.True(MigEnabled(server));
    }

    [Fact]
    public void The_system_library_changes_no_MIG_while_the_agent_serves_a_fixture_tree()
    {
        using var server = new FakeServer("dgx-h100");
        // The system's library name: what would reach real GPUs. The refusal comes before any NVML call, so the
        // library need not load here (and would change nothing if it did).
        using var system = new GpuNvml("libnvidia-ml.so.1", server.SysfsRoot);
        var capabilities = new HostCapabilities(new AgentOptions { SysfsRoot = server.SysfsRoot, ProcfsRoot = server.Root }, privileged: true, nvmlLoadable: _ => true);
        var service = new GpuApiService(system, server.Inventory, server.Applier, capabilities);

        RpcException ex = Assert.Throws<RpcException>(() => service.SetMigMode(new SetMigModeRequest { Gpu = Gpu0, Enabled = true }));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.StartsWith($"the agent is read-only here (sysfs root is {server.SysfsRoot}, not /sys", ex.Detail, StringComparison.Ordinal);
        Assert.False(MigEnabled(server));
    }

    private static GpuApiService Service(FakeServer server, AgentOptions options) =>
        new(server.Nvml, server.Inventory, server.Applier, new HostCapabilities(options, privileged: true, nvmlLoadable: _ => true));

    private static bool MigEnabled(FakeServer server)
    {
        INvml api = server.Nvml.Require();
        return api.GetMigMode(server.Inventory.Resolve(Gpu0).Device) is (true, _);
    }
}
