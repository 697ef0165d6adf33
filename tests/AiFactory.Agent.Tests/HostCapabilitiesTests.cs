using AiFactory.Agent.Configuration;

namespace AiFactory.Agent.Tests;

public sealed class HostCapabilitiesTests
{
    [Fact]
    public void Root_on_the_real_sys_and_proc_may_change_the_machine()
    {
        var capabilities = new HostCapabilities(new AgentOptions(), privileged: true, nvmlLoadable: _ => true);

        Assert.False(capabilities.ReadOnly);
        Assert.All(capabilities.All, c => Assert.True(c.Available, c.Name));
    }

    [Fact]
    public void Without_root_the_agent_is_read_only_and_says_why()
    {
        var capabilities = new HostCapabilities(new AgentOptions(), privileged: false, nvmlLoadable: _ => true);

        Assert.True(capabilities.ReadOnly);
        HostCapability write = Assert.Single(capabilities.All, c => c.Name == "sysfs-write");
        Assert.False(write.Available);
        Assert.Equal("not running as root", write.Reason);
    }

    [Fact]
    public void A_fixture_tree_is_served_read_only_even_as_root()
    {
        var options = new AgentOptions { SysfsRoot = "/tmp/fixture/sys", ProcfsRoot = "/tmp/fixture/proc" };

        var capabilities = new HostCapabilities(options, privileged: true, nvmlLoadable: _ => true);

        Assert.True(capabilities.ReadOnly);
        Assert.Contains("sysfs root is /tmp/fixture/sys, not /sys", capabilities.ReadOnlyReason, StringComparison.Ordinal);
        Assert.Contains("procfs root is /tmp/fixture/proc", capabilities.ReadOnlyReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Asking_for_read_only_makes_root_on_the_real_machine_read_only()
    {
        var capabilities = new HostCapabilities(new AgentOptions { ReadOnly = true }, privileged: true, nvmlLoadable: _ => true);

        Assert.True(capabilities.ReadOnly);
        Assert.Equal("read-only: true was asked for", capabilities.ReadOnlyReason);
    }

    [Fact]
    public void A_missing_nvml_library_is_named_as_what_cannot_be_done()
    {
        var capabilities = new HostCapabilities(new AgentOptions { NvmlLibrary = "libnvidia-ml.so.1" }, privileged: true, nvmlLoadable: _ => false);

        HostCapability nvml = Assert.Single(capabilities.All, c => c.Name == "nvml");
        Assert.False(nvml.Available);
        Assert.Contains("libnvidia-ml.so.1 not found", nvml.Reason, StringComparison.Ordinal);
        Assert.False(capabilities.ReadOnly);
    }

    [Fact]
    public void A_feature_replaces_a_capability_by_name()
    {
        var capabilities = new HostCapabilities(new AgentOptions(), privileged: true, nvmlLoadable: _ => false);

        capabilities.Add(new HostCapability("nvml", true, string.Empty));

        Assert.True(Assert.Single(capabilities.All, c => c.Name == "nvml").Available);
    }
}
