using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc.Client;

namespace AiFactory.EndToEnd.Tests;

/// <summary>Without root, without GPUs and NVML, on a fixture tree: the agent serves read-only and says what it cannot do.</summary>
public sealed class ReadOnlyHostTests
{
    [Fact]
    public async Task As_an_unprivileged_user_the_agent_reports_read_only_and_why()
    {
        // Tests run as root in CI: drop to nobody as a packaged service without root would run.
        string[]? wrapper = Environment.IsPrivilegedProcess ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : null;
        using AgentUnderTest agent = AgentUnderTest.StartReady(out string ready, wrapper: wrapper);
        using GrpcChannel channel = agent.Channel();

        GetStatusResponse status = await channel.UnaryAsync("/aifactory.agent.v1.Agent/GetStatus", new GetStatusRequest(), GetStatusResponse.Parser);

        Assert.True(status.ReadOnly);
        Capability root = Assert.Single(status.Capabilities, c => c.Name == "root");
        Assert.False(root.Available);
        Capability write = Assert.Single(status.Capabilities, c => c.Name == "sysfs-write");
        Assert.False(write.Available);
        Assert.Contains("not running as root", write.Reason, StringComparison.Ordinal);
        Assert.Contains("(read-only)", ready, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(agent.Dir, "fixture", "sys"), status.SysfsRoot);
    }

    [Fact]
    public async Task Without_nvml_the_agent_serves_and_says_it_has_no_gpu_inventory()
    {
        using AgentUnderTest agent = AgentUnderTest.StartReady(out _);
        using GrpcChannel channel = agent.Channel();

        GetStatusResponse status = await channel.UnaryAsync("/aifactory.agent.v1.Agent/GetStatus", new GetStatusRequest(), GetStatusResponse.Parser);

        Capability nvml = Assert.Single(status.Capabilities, c => c.Name == "nvml");
        Assert.False(nvml.Available);
        Assert.False(string.IsNullOrWhiteSpace(nvml.Reason));
        Assert.Contains(agent.Process.Stdout, line => line.Contains("Capability nvml unavailable: ", StringComparison.Ordinal));
        Assert.Contains(agent.Process.Stdout, line => line.Contains("Read-only: serving inventory only", StringComparison.Ordinal));
    }
}
