using System.Text.Json;
using AiFactory.Cli.Profile;
using AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Tests.Cli;

/// <summary><c>aifactoryctl profile get</c>: its exit status says whether the stored profile holds, with <c>--json</c> or without.</summary>
public sealed class ProfileGetTests
{
    private static readonly GetProfileResponse Drifted = new()
    {
        Source = "/etc/aifactory/profile.yaml",
        Holds = false,
        Yaml = "version: v1\n",
        Drift = { new ProfilePlanStep { Index = 1, Description = "sriov_numvfs of 0000:41:00.0 is 0, the profile wants 8" } },
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Drift_exits_one_whether_printed_as_text_or_json(bool json)
    {
        int exit = ProfileCommand.WriteGet(Drifted, json, new StringWriter());

        Assert.Equal(1, exit);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_profile_that_holds_or_none_at_all_exits_zero(bool json)
    {
        Assert.Equal(0, ProfileCommand.WriteGet(new GetProfileResponse { Source = "/etc/aifactory/profile.yaml", Holds = true }, json, new StringWriter()));
        Assert.Equal(0, ProfileCommand.WriteGet(new GetProfileResponse(), json, new StringWriter()));
    }

    [Fact]
    public void The_json_is_one_document_carrying_holds_and_the_drift()
    {
        var text = new StringWriter();

        ProfileCommand.WriteGet(Drifted, json: true, text);

        using JsonDocument document = JsonDocument.Parse(text.ToString());
        Assert.False(document.RootElement.GetProperty("holds").GetBoolean());
        Assert.Single(document.RootElement.GetProperty("drift").EnumerateArray());
    }
}
