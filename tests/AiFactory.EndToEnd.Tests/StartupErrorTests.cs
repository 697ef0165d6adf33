namespace AiFactory.EndToEnd.Tests;

/// <summary>
/// Start-up problems end the agent with one line on stderr and a sysexits status (78 configuration, 73 cannot
/// create), never a stack trace (which systemd would restart into again and again), and never harm a file.
/// </summary>
public sealed class StartupErrorTests
{
    [Fact]
    public async Task A_regular_file_given_as_the_socket_is_kept_and_the_agent_exits_78()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        string victim = Path.Combine(dir, "victim");
        File.WriteAllText(victim, "data\n");

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, With(AgentUnderTest.Arguments(dir), "--socket", victim));

        Assert.Equal(78, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal($"aifactory-agent: invalid configuration: command line --socket: socket: invalid value \"{victim}\": exists and is not a socket", stderr);
        Assert.Equal("data\n", File.ReadAllText(victim));
    }

    [Fact]
    public async Task A_socket_path_too_long_for_a_unix_socket_exits_78_with_one_line()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        string socket = Path.Combine(dir, "run", new string('s', 120) + ".sock");

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, With(AgentUnderTest.Arguments(dir), "--socket", socket));

        Assert.Equal(78, status);
        Assert.Contains("a Unix socket path holds at most 107", Assert.Single(stderr.Split('\n')), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_socket_directory_the_agent_may_not_write_exits_69_naming_the_socket_and_the_errno_text()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        string run = Path.Combine(dir, "run");
        File.SetUnixFileMode(run, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        string[]? wrapper = Environment.IsPrivilegedProcess ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : null;

        using RunningProcess agent = RunningProcess.Start(Binaries.Agent, AgentUnderTest.Arguments(dir), wrapper: wrapper);
        Assert.True(await agent.WaitForExitAsync(AgentUnderTest.Patience), agent.Describe());

        Assert.Equal(69, agent.ExitCode);
        Assert.Equal($"aifactory-agent: cannot listen: socket {Path.Combine(run, "agent.sock")}: Permission denied", Assert.Single(agent.Stderr));
        Assert.Empty(Directory.EnumerateFileSystemEntries(run));
    }

    [Fact]
    public async Task A_state_dir_below_a_regular_file_exits_73_naming_state_dir_and_the_errno_text()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        string file = Path.Combine(dir, "file");
        File.WriteAllText(file, "data\n");
        string state = Path.Combine(file, "x");

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, With(AgentUnderTest.Arguments(dir), "--state-dir", state));

        Assert.Equal(73, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal($"aifactory-agent: cannot use state-dir {state}: {state}: Not a directory", stderr);
        Assert.False(File.Exists(Path.Combine(dir, "run", "agent.sock")));
    }

    [Fact]
    public async Task A_state_dir_the_agent_may_not_write_exits_73_with_permission_denied()
    {
        string dir = AgentUnderTest.PrepareDirectory();
        string state = Path.Combine(dir, "state");
        Directory.CreateDirectory(state);
        File.SetUnixFileMode(state, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        string[]? wrapper = Environment.IsPrivilegedProcess ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : null;

        using RunningProcess agent = RunningProcess.Start(Binaries.Agent, AgentUnderTest.Arguments(dir), wrapper: wrapper);
        Assert.True(await agent.WaitForExitAsync(AgentUnderTest.Patience), agent.Describe());

        Assert.Equal(73, agent.ExitCode);
        Assert.Equal($"aifactory-agent: cannot use state-dir {state}: {state}: Permission denied", Assert.Single(agent.Stderr));
    }

    [Fact]
    public async Task Under_journald_the_line_that_ends_the_agent_carries_the_error_priority()
    {
        string dir = AgentUnderTest.PrepareDirectory();

        using RunningProcess agent = RunningProcess.Start(Binaries.Agent, [.. AgentUnderTest.Arguments(dir), "--log-level", "loud"], wrapper: JournalStream.Wrapper(fd: 2));
        Assert.True(await agent.WaitForExitAsync(AgentUnderTest.Patience), agent.Describe());

        Assert.Equal(78, agent.ExitCode);
        Assert.StartsWith("<3>aifactory-agent: invalid configuration: command line --log-level: ", Assert.Single(agent.Stderr), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_journal_stream_that_is_not_stderr_the_line_is_plain()
    {
        string dir = AgentUnderTest.PrepareDirectory();

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, [.. AgentUnderTest.Arguments(dir), "--log-level", "loud"],
            new Dictionary<string, string?> { ["JOURNAL_STREAM"] = "8:12345" });

        Assert.Equal(78, status);
        Assert.StartsWith("aifactory-agent: invalid configuration: ", stderr, StringComparison.Ordinal);
    }

    /// <summary>The arguments with <paramref name="flag"/>'s value replaced (a flag given twice is a usage error).</summary>
    private static List<string> With(List<string> args, string flag, string value)
    {
        args[args.IndexOf(flag) + 1] = value;
        return args;
    }
}
