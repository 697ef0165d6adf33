namespace AiFactory.EndToEnd.Tests;

/// <summary>An invalid configuration: exit status 78 (EX_CONFIG) and one message naming key, value and why.</summary>
public sealed class ConfigurationErrorTests
{
    [Fact]
    public async Task An_invalid_flag_value_exits_78_with_one_message_naming_key_value_and_reason()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        List<string> args = AgentUnderTest.Arguments(dir);
        args.AddRange(["--log-level", "loud"]);

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, args);

        Assert.Equal(78, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal("aifactory-agent: invalid configuration: command line --log-level: log-level: invalid value \"loud\": must be one of trace, debug, info, warning, error", stderr);
        Assert.False(File.Exists(Path.Combine(dir, "run", "agent.sock")));
    }

    [Fact]
    public async Task An_invalid_environment_value_exits_78()
    {
        string dir = AgentUnderTest.PrepareDirectory();

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, AgentUnderTest.Arguments(dir), new Dictionary<string, string?> { ["AIFACTORY_MAX_MESSAGE_SIZE"] = "lots" });

        Assert.Equal(78, status);
        Assert.Contains("environment AIFACTORY_MAX_MESSAGE_SIZE: max-message-size: invalid value \"lots\"", Assert.Single(stderr.Split('\n')), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bad-key", "not a Prometheus label name")]
    [InlineData("__x", "reserved for Prometheus")]
    [InlineData("UUID", "GPU series already carry the label")]
    public async Task A_hostname_label_that_Prometheus_would_refuse_exits_78_with_one_line_naming_it(string label, string reason)
    {
        string dir = AgentUnderTest.PrepareDirectory();

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, AgentUnderTest.Arguments(dir), new Dictionary<string, string?> { ["AIFACTORY_METRICS_HOSTNAME_LABEL"] = label });

        Assert.Equal(78, status);
        Assert.Equal(string.Empty, stdout);
        string line = Assert.Single(stderr.Split('\n'));
        Assert.StartsWith($"aifactory-agent: invalid configuration: environment AIFACTORY_METRICS_HOSTNAME_LABEL: metrics-hostname-label: invalid value \"{label}\": ", line, StringComparison.Ordinal);
        Assert.Contains(reason, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_yaml_key_exits_78_naming_the_key_and_line()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        File.WriteAllText(Path.Combine(dir, "agent.yaml"), "log-level: info\nsysfs_root: /sys\n");

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, AgentUnderTest.Arguments(dir));

        Assert.Equal(78, status);
        Assert.Equal(string.Empty, stdout);
        string line = Assert.Single(stderr.Split('\n'));
        Assert.Contains("sysfs_root: unknown key (line 2)", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_config_file_named_on_the_command_line_exits_78()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        List<string> args = AgentUnderTest.Arguments(dir);
        args[1] = Path.Combine(dir, "nope.yaml");

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, args);

        Assert.Equal(78, status);
        Assert.Contains("nope.yaml\": file does not exist", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/dev/zero", "is not a regular file")]
    [InlineData("DIR", "is a directory")]
    public async Task A_config_path_that_is_not_a_regular_file_exits_78_at_once(string config, string why)
    {
        string dir = AgentUnderTest.PrepareDirectory();
        config = config == "DIR" ? dir : config;
        List<string> args = AgentUnderTest.Arguments(dir);
        args[1] = config;

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, args);

        Assert.Equal(78, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal($"aifactory-agent: invalid configuration: command line --config: config: invalid value \"{config}\": {why}", stderr);
    }

    [Fact]
    public async Task A_missing_config_file_named_in_the_environment_blames_the_variable()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        List<string> args = AgentUnderTest.Arguments(dir);
        args.RemoveRange(0, 2);
        string missing = Path.Combine(dir, "nope.yaml");

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, args, new Dictionary<string, string?> { ["AIFACTORY_CONFIG"] = missing });

        Assert.Equal(78, status);
        Assert.Equal($"aifactory-agent: invalid configuration: environment AIFACTORY_CONFIG: config: invalid value \"{missing}\": file does not exist", stderr);
    }

    [Fact]
    public async Task An_unknown_flag_exits_64_without_starting()
    {
        string dir = AgentUnderTest.PrepareDirectory();

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, [.. AgentUnderTest.Arguments(dir), "--sysfs-rot", "/sys"]);

        Assert.Equal(64, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains("--sysfs-rot", stderr, StringComparison.Ordinal);
    }
}
