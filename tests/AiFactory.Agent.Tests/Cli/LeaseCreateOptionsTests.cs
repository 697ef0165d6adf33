using System.CommandLine;
using AiFactory.Cli;
using AiFactory.Cli.Lease;

namespace AiFactory.Agent.Tests.Cli;

/// <summary><c>aifactoryctl lease create</c>'s values: a bad one is a usage error naming the option and the value.</summary>
public sealed class LeaseCreateOptionsTests
{
    [Theory]
    [InlineData("3600", 3600L)]
    [InlineData("90m", 5400L)]
    [InlineData("8h", 28800L)]
    [InlineData("2d", 172800L)]
    [InlineData("0", 0L)]
    [InlineData("9223372036854775807s", long.MaxValue)]
    public void A_ttl_is_read_in_seconds(string text, long seconds) => Assert.Equal(seconds, LeaseCommand.ParseSeconds(text));

    [Theory]
    [InlineData("307445734561825861m")]
    [InlineData("9223372036854775807h")]
    [InlineData("106751991167301d")]
    [InlineData("9223372036854775808")]
    [InlineData("99999999999999999999999m")]
    public void A_ttl_past_what_ttl_seconds_carries_is_refused_not_wrapped(string text)
    {
        var ex = Assert.Throws<FormatException>(() => LeaseCommand.ParseSeconds(text));

        Assert.Equal($"--ttl: \"{text}\" is too long: a lease's TTL is at most 9223372036854775807 seconds", ex.Message);
    }

    [Fact]
    public void A_negative_ttl_is_refused_here_not_by_the_agent()
    {
        var ex = Assert.Throws<FormatException>(() => LeaseCommand.ParseSeconds("-1h"));

        Assert.Equal("--ttl: \"-1h\" is negative: a lease's lifetime must be positive (or 0 for none)", ex.Message);
    }

    [Theory]
    [InlineData("--vcpus", "-1")]
    [InlineData("--vcpus", "4294967296")]
    [InlineData("--vcpus", "two")]
    [InlineData("--gpus", "-1")]
    [InlineData("--vfs", "1.5")]
    public void A_count_that_is_not_a_whole_number_is_a_usage_error_without_the_dotnet_type(string option, string value)
    {
        List<string> args = ["lease", "create", "--owner", "x", "--memory", "1G", option, value];
        if (option != "--vcpus")
        {
            args.AddRange(["--vcpus", "2"]);
        }

        ParseResult parse = CliApp.Build().Parse(args);

        string error = Assert.Single(parse.Errors).Message;
        Assert.Equal($"{option}: invalid value \"{value}\": must be a whole number from 0 to 4294967295", error);
        Assert.DoesNotContain("System.", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_whole_count_parses()
    {
        ParseResult parse = CliApp.Build().Parse(["lease", "create", "--owner", "x", "--vcpus", "16", "--gpus", "2", "--memory", "1G"]);

        Assert.Empty(parse.Errors);
    }
}
