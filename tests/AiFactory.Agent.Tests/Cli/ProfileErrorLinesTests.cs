using AiFactory.Agent.Profile;
using AiFactory.Grpc;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Tests.Cli;

/// <summary>
/// An invalid profile from the agent's Profile service to aifactoryctl's stderr: each error one line with one
/// <c>invalid profile:</c> prefix, however many "; " its reason holds.
/// </summary>
public sealed class ProfileErrorLinesTests
{
    [Fact]
    public void Each_error_the_agent_sends_is_one_line_even_when_its_reason_holds_semicolons()
    {
        RpcException sent = ProfileApiService.Invalid(
        [
            new ProfileValidationError("bogus", "unknown key (line 2); known here: version, vfio"),
            new ProfileValidationError("line 2", "not valid YAML: nested deeper than 64 levels (at depth 65); nothing beyond was read"),
            new ProfileValidationError("hugepages[0].size", "\"2\nM\" is not a hugepage size (2M, 1G)"),
        ]);

        string[] lines = [.. AiFactory.Cli.Profile.ProfileCommand.InvalidProfileLines(sent.Detail)];

        Assert.Equal(StatusCode.InvalidArgument, sent.StatusCode);
        Assert.Equal(
        [
            "invalid profile: bogus: unknown key (line 2); known here: version, vfio",
            "invalid profile: line 2: not valid YAML: nested deeper than 64 levels (at depth 65); nothing beyond was read",
            "invalid profile: hugepages[0].size: \"2\\x0aM\" is not a hugepage size (2M, 1G)",
        ], lines);
    }
}
