namespace AiFactory.EndToEnd.Tests;

/// <summary>Logs on stdout: when JOURNAL_STREAM names stdout (systemd's StandardOutput=journal) each line carries its priority.</summary>
public sealed class JournalLoggingTests
{
    [Fact]
    public async Task Under_journald_every_line_starts_with_a_syslog_priority()
    {
        using AgentUnderTest agent = AgentUnderTest.StartReady(out _, wrapper: JournalStream.Wrapper(fd: 1));
        agent.Process.Terminate();
        Assert.True(await agent.Process.WaitForExitAsync(AgentUnderTest.Patience));

        IReadOnlyList<string> lines = agent.Process.Stdout;
        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.Matches("^<[0-7]>", line));
        Assert.Contains(lines, line => line.StartsWith("<6>SystemdLifetime: Ready: serving on ", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("<4>Daemon: Read-only:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_journal_stream_inherited_by_a_process_writing_elsewhere_gives_plain_lines()
    {
        using AgentUnderTest agent = AgentUnderTest.StartReady(out _, new Dictionary<string, string?> { ["JOURNAL_STREAM"] = "8:12345" });
        agent.Process.Terminate();
        Assert.True(await agent.Process.WaitForExitAsync(AgentUnderTest.Patience));

        Assert.NotEmpty(agent.Process.Stdout);
        Assert.All(agent.Process.Stdout, line => Assert.DoesNotMatch("^<[0-7]>", line));
    }

    [Fact]
    public async Task On_a_terminal_lines_carry_a_timestamp_and_no_priority()
    {
        using AgentUnderTest agent = AgentUnderTest.StartReady(out _);
        agent.Process.Terminate();
        Assert.True(await agent.Process.WaitForExitAsync(AgentUnderTest.Patience));

        Assert.All(agent.Process.Stdout, line => Assert.Matches(@"^\d{4}-\d\d-\d\dT[0-9:.]+Z (info |warn |error|debug|crit |trace) ", line));
    }
}
