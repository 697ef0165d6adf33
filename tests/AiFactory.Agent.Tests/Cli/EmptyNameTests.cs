using System.CommandLine;
using AiFactory.Cli;
using AiFactory.Cli.Lease;

namespace AiFactory.Agent.Tests.Cli;

/// <summary>An empty GPU, lease id, profile or owner is a usage error (exit 2) like a missing one, not a call the agent refuses (exit 1).</summary>
public sealed class EmptyNameTests
{
    [Theory]
    [InlineData("<gpu>", "mig", "show", "")]
    [InlineData("<gpu>", "mig", "mode", " ", "--enable")]
    [InlineData("<gpu>", "mig", "apply", "", "1g.10gb")]
    [InlineData("<profiles>", "mig", "plan", "0", "1g.10gb", "")]
    [InlineData("<id>", "lease", "show", "")]
    [InlineData("<id>", "lease", "release", "")]
    [InlineData("<id>", "lease", "attach", "", "--domain", "vm1")]
    [InlineData("--owner", "lease", "create", "--owner", "", "--vcpus", "1", "--memory", "1G")]
    public void An_empty_name_is_a_usage_error_naming_what_is_empty(string name, params string[] args)
    {
        ParseResult parse = CliApp.Build().Parse(args);

        string error = Assert.Single(parse.Errors).Message;
        Assert.StartsWith($"{name}: invalid value \"", error, StringComparison.Ordinal);
        Assert.EndsWith("\": must not be empty", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("99999999999T")]
    [InlineData("18446744073709551616")]
    [InlineData("99999999999999999999999G")]
    public void A_memory_size_past_what_memory_bytes_carries_is_too_large_not_malformed(string text)
    {
        var ex = Assert.Throws<FormatException>(() => LeaseCommand.ParseSize(text));

        Assert.Equal($"--memory: \"{text}\" is too large: at most 18446744073709551615 bytes", ex.Message);
    }
}
