using System.Text.Json;

namespace AiFactory.EndToEnd.Tests;

/// <summary>aifactoryctl against a running agent, and against none.</summary>
public sealed class CliTests : IDisposable
{
    private readonly AgentUnderTest _agent = AgentUnderTest.StartReady(out _);

    public void Dispose() => _agent.Dispose();

    [Fact]
    public async Task Health_prints_serving_and_exits_zero()
    {
        (int status, string stdout, string stderr) = await Ctl("health");

        Assert.True(status == 0, stderr);
        Assert.Equal("SERVING", stdout.Trim());
    }

    [Fact]
    public async Task Health_json_is_the_protobuf_json_of_the_answer()
    {
        (int status, string stdout, _) = await Ctl("health", "--json");

        Assert.Equal(0, status);
        using JsonDocument json = JsonDocument.Parse(stdout);
        Assert.Equal("SERVING", json.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Health_of_an_unknown_service_exits_one_with_not_found()
    {
        (int status, _, string stderr) = await Ctl("health", "--service", "no.such.Service");

        Assert.Equal(1, status);
        Assert.Contains("NotFound", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_shows_the_cli_and_the_agent()
    {
        (int status, string stdout, _) = await Ctl("version");

        Assert.Equal(0, status);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("aifactoryctl ", lines[0], StringComparison.Ordinal);
        Assert.Matches(@"^aifactory-agent \d+\.\d+\.\d+\+[0-9a-f]+ on .+ \(.+\)$", lines[1]);
        Assert.Contains(Binaries.NativeAot ? "native AOT" : "JIT", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_lines_up_the_clis_version_under_the_agents()
    {
        (int status, string stdout, _) = await Ctl("version");

        Assert.Equal(0, status);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int cli = System.Text.RegularExpressions.Regex.Match(lines[0], "^aifactoryctl +").Length;
        int agent = System.Text.RegularExpressions.Regex.Match(lines[1], "^aifactory-agent +").Length;
        Assert.Equal(agent, cli);
    }

    [Fact]
    public async Task Version_json_carries_version_commit_and_runtime()
    {
        (int status, string stdout, _) = await Ctl("version", "--json");

        Assert.Equal(0, status);
        using JsonDocument json = JsonDocument.Parse(stdout);
        Assert.Matches(@"^\d+\.\d+\.\d+$", json.RootElement.GetProperty("version").GetString());
        Assert.Matches("^[0-9a-f]{7,40}$", json.RootElement.GetProperty("commit").GetString());
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("runtime").GetString()));
    }

    [Fact]
    public async Task Version_json_carries_the_clis_own_version_and_commit_too()
    {
        (int status, string stdout, _) = await Ctl("version", "--json");

        Assert.Equal(0, status);
        using JsonDocument json = JsonDocument.Parse(stdout);
        Assert.Equal(json.RootElement.GetProperty("version").GetString(), json.RootElement.GetProperty("cliVersion").GetString());
        Assert.Matches("^([0-9a-f]{7,40}|unknown)$", json.RootElement.GetProperty("cliCommit").GetString());
    }

    [Fact]
    public async Task Without_an_agent_health_exits_69_with_one_line_on_stderr()
    {
        string missing = Path.Combine(_agent.Dir, "run", "absent.sock");

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--socket", missing, "--timeout", "5"]);

        Assert.Equal(69, status);
        Assert.Equal(string.Empty, stdout);
        Assert.StartsWith("aifactoryctl: Unavailable: ", Assert.Single(stderr.Split('\n')), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_an_agent_version_json_prints_the_clis_part_and_the_agents_error_as_json()
    {
        string missing = Path.Combine(_agent.Dir, "run", "absent.sock");

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["version", "--json", "--socket", missing]);

        Assert.Equal(69, status);
        using JsonDocument json = JsonDocument.Parse(stdout);
        Assert.Matches(@"^\d+\.\d+\.\d+$", json.RootElement.GetProperty("cliVersion").GetString());
        Assert.Equal("Unavailable", json.RootElement.GetProperty("agentError").GetProperty("code").GetString());
        Assert.False(json.RootElement.TryGetProperty("version", out _));
        string message = json.RootElement.GetProperty("agentError").GetProperty("message").GetString()!;
        Assert.Equal("aifactoryctl: Unavailable: " + message, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task Output_to_a_full_disk_is_one_line_on_stderr_and_exit_74_not_a_stack_trace()
    {
        (string file, string[] prefix) = Binaries.Cli;

        (int status, _, string stderr) = await RunningProcess.RunAsync(
            ("/bin/sh", ["-c", "exec \"$@\" > /dev/full", "sh", file, .. prefix]), ["gpu", "list", "--json", "--socket", _agent.Socket]);

        Assert.Equal(74, status);
        Assert.Equal("aifactoryctl: I/O error: No space left on device", stderr.Trim());
    }

    [Fact]
    public async Task An_unknown_verb_is_a_usage_error()
    {
        (int status, string stdout, string stderr) = await Ctl("frobnicate");

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains("frobnicate", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("version: v1\nbogus: 1\n", "invalid profile: bogus: unknown key (line 2); known here: version, vfio, sriov, mig, hugepages, cpus, services")]
    [InlineData("version: v1\n---\nversion: v1\n", "invalid profile: line 3: a second YAML document (after ---): a profile is one document (2 found); merge them or remove the rest")]
    [InlineData("", "invalid profile: (document): must be a mapping with version: v1")]
    public async Task An_invalid_profile_is_one_line_per_error_with_one_prefix_and_exit_2(string yaml, string expected)
    {
        string file = Path.Combine(_agent.Dir, "profile.yaml");
        await File.WriteAllTextAsync(file, yaml);

        (int status, string stdout, string stderr) = await Ctl("profile", "plan", "-f", file);

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal(expected, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task The_socket_can_come_from_the_environment()
    {
        (int status, string stdout, _) = await RunningProcess.RunAsync(Binaries.Cli, ["health"], new Dictionary<string, string?> { ["AIFACTORY_SOCKET"] = _agent.Socket });

        Assert.Equal(0, status);
        Assert.Equal("SERVING", stdout.Trim());
    }

    private Task<(int Status, string Stdout, string Stderr)> Ctl(params string[] args) =>
        RunningProcess.RunAsync(Binaries.Cli, [.. args, "--socket", _agent.Socket]);
}
