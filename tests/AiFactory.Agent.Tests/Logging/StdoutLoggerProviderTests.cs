using AiFactory.Agent.Logging;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Tests.Logging;

public sealed class StdoutLoggerProviderTests
{
    [Theory]
    [InlineData(LogLevel.Critical, "<2>")]
    [InlineData(LogLevel.Error, "<3>")]
    [InlineData(LogLevel.Warning, "<4>")]
    [InlineData(LogLevel.Information, "<6>")]
    [InlineData(LogLevel.Debug, "<7>")]
    public void Under_journald_each_line_starts_with_the_syslog_priority(LogLevel level, string prefix)
    {
        var output = new StringWriter();
        using var provider = new StdoutLoggerProvider(output, journal: true, LogLevel.Trace);

        provider.CreateLogger("AiFactory.Agent.Daemon").Log(level, "hello {Who}", "world");

        Assert.Equal(prefix + "Daemon: hello world" + Environment.NewLine, output.ToString());
    }

    [Fact]
    public void Without_journald_a_line_has_a_utc_timestamp_and_a_level_word_but_no_priority()
    {
        var output = new StringWriter();
        using var provider = new StdoutLoggerProvider(output, journal: false, LogLevel.Information);

        provider.CreateLogger("AiFactory.Agent.Daemon").LogWarning("careful");

        string line = output.ToString().TrimEnd();
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn  Daemon: careful$", line);
    }

    [Fact]
    public void A_multi_line_message_and_its_exception_stay_one_journal_entry()
    {
        var output = new StringWriter();
        using var provider = new StdoutLoggerProvider(output, journal: true, LogLevel.Information);

        provider.CreateLogger("X").LogError(new InvalidOperationException("bad\nthing"), "first\nsecond");

        Assert.Equal("<3>X: first second | InvalidOperationException: bad thing" + Environment.NewLine, output.ToString());
    }

    [Fact]
    public void Events_below_the_minimum_level_are_not_written()
    {
        var output = new StringWriter();
        using var provider = new StdoutLoggerProvider(output, journal: true, LogLevel.Warning);
        ILogger logger = provider.CreateLogger("X");

        logger.LogInformation("quiet");

        Assert.False(logger.IsEnabled(LogLevel.Information));
        Assert.Equal(string.Empty, output.ToString());
    }

    [Theory]
    [InlineData("13:4242", true)]
    [InlineData("13:4243", false)]
    [InlineData("14:4242", false)]
    [InlineData("", false)]
    [InlineData("13", false)]
    [InlineData("x:4242", false)]
    public void Journal_stream_must_name_the_device_and_inode_of_the_descriptor(string journalStream, bool expected)
    {
        var pipe = new AiFactory.Host.Hardware.Files.FileIdentity(0x1180, 13, 4242);

        Assert.Equal(expected, StdoutLoggerProvider.IsJournalStream(journalStream, pipe));
    }

    [Fact]
    public void Journal_stream_set_but_the_descriptor_closed_is_no_journal()
    {
        Assert.False(StdoutLoggerProvider.IsJournalStream("13:4242", null));
    }

    [Fact]
    public void A_fatal_line_carries_the_error_priority_under_journald_and_is_one_line()
    {
        var stderr = new StringWriter();

        StdoutLoggerProvider.WriteFatal(stderr, journal: true, "invalid configuration: x:\ny");

        Assert.Equal("<3>aifactory-agent: invalid configuration: x: y" + Environment.NewLine, stderr.ToString());
    }

    [Fact]
    public void A_fatal_line_outside_journald_has_no_priority()
    {
        var stderr = new StringWriter();

        StdoutLoggerProvider.WriteFatal(stderr, journal: false, "cannot listen: port in use");

        Assert.Equal("aifactory-agent: cannot listen: port in use" + Environment.NewLine, stderr.ToString());
    }
}
