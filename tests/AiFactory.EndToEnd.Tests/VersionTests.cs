namespace AiFactory.EndToEnd.Tests;

public sealed class VersionTests
{
    private const string VersionAndCommit = @"^\d+\.\d+\.\d+\+[0-9a-f]{7,40}$";

    [Fact]
    public async Task The_agent_answers_version_with_version_and_commit()
    {
        (int status, string stdout, _) = await RunningProcess.RunAsync(Binaries.Agent, ["--version"]);

        Assert.Equal(0, status);
        Assert.Matches(VersionAndCommit, stdout.Trim());
    }

    [Fact]
    public async Task The_cli_answers_version_with_version_and_commit()
    {
        (int status, string stdout, _) = await RunningProcess.RunAsync(Binaries.Cli, ["--version"]);

        Assert.Equal(0, status);
        Assert.Matches(VersionAndCommit, stdout.Trim());
    }

    [Fact]
    public async Task Both_binaries_come_from_the_same_build()
    {
        (_, string agent, _) = await RunningProcess.RunAsync(Binaries.Agent, ["--version"]);
        (_, string cli, _) = await RunningProcess.RunAsync(Binaries.Cli, ["--version"]);

        Assert.Equal(agent.Trim(), cli.Trim());
    }
}
