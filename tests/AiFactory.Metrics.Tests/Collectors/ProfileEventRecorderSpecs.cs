using AiFactory.Agent.Metrics;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Metrics.Tests.Fixtures;

namespace AiFactory.Metrics.Tests.Collectors;

public sealed class ProfileEventRecorderSpecs
{
    private static Event Profile(string kind, string? steps = null)
    {
        var e = new Event { Kind = kind };
        if (steps is not null)
        {
            e.Attributes["steps"] = steps;
        }

        return e;
    }

    [Fact]
    public void Profile_events_become_outcome_counts_and_drift()
    {
        var metrics = new AgentMetrics();
        ProfileEventRecorder.Record(metrics, Profile("profile.applied", "3"));
        ProfileEventRecorder.Record(metrics, Profile("profile.applied", "0"));
        ProfileEventRecorder.Record(metrics, Profile("profile.applied", "0"));
        ProfileEventRecorder.Record(metrics, Profile("profile.failed"));
        ProfileEventRecorder.Record(metrics, Profile("profile.drift"));
        ProfileEventRecorder.Record(metrics, Profile("inventory.changed"));

        var samples = ExpositionParser.Parse(Scrapes.Text(Scrapes.Scraper(null, null, null, metrics)), openMetrics: false);

        double Outcome(string o) => samples.Single(s => s.Name == "aifactory_profile_applies_total" && s.Labels["outcome"] == o).Value;
        Assert.Equal(1, Outcome("applied"));
        Assert.Equal(2, Outcome("unchanged"));
        Assert.Equal(1, Outcome("failed"));
        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_drift_detected_total").Value);
    }
}
