namespace AiFactory.Packaging.Tests;

/// <summary>packaging/build.sh refuses bad input before it builds anything.</summary>
public sealed class BuildScriptTests
{
    private static ToolResult Build(params string[] arguments) => Tool.Run(Repository.PathOf("packaging/build.sh"), arguments);

    [Fact]
    public void An_unknown_runtime_identifier_is_refused()
    {
        ToolResult result = Build("--publish-dir", "/nonexistent", "win-x64");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unsupported runtime identifier win-x64", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_publish_says_how_to_make_one()
    {
        string empty = Directory.CreateTempSubdirectory("aifactory-nopublish-").FullName;
        try
        {
            ToolResult result = Build("--publish-dir", empty, "linux-arm64");

            Assert.Equal(1, result.ExitCode);
            Assert.Contains("run tools/publish-aot.sh linux-arm64 first", result.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Theory]
    [InlineData("v1.0")]
    [InlineData("1.0;rm")]
    public void A_malformed_version_is_refused(string version)
    {
        ToolResult result = Build("--version", version, "--publish-dir", "/nonexistent", "linux-x64");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("version", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_upgrade_version_bumps_the_last_component()
    {
        Assert.Equal("0.1.1", BuiltPackages.Bump("0.1.0"));
        Assert.Equal("1.10", BuiltPackages.Bump("1.9"));
    }
}
