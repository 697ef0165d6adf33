using AiFactory.Agent.Metrics;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Metrics.Tests.Fixtures;

namespace AiFactory.Metrics.Tests.Collectors;

public sealed class NodeEventRecorderSpecs
{
    private static Event Make(string kind, params (string Key, string Value)[] attributes)
    {
        var e = new Event { Kind = kind };
        foreach ((string key, string value) in attributes)
        {
            e.Attributes[key] = value;
        }

        return e;
    }

    private static List<ExpositionParser.Sample> Scrape(AgentMetrics metrics) =>
        ExpositionParser.Parse(Scrapes.Text(Scrapes.Scraper(null, null, null, metrics)), openMetrics: false);

    [Fact]
    public void Profile_events_become_outcome_counts_and_drift()
    {
        var metrics = new AgentMetrics();
        NodeEventRecorder.Record(metrics, Make("profile.applied", ("steps", "3")));
        NodeEventRecorder.Record(metrics, Make("profile.applied", ("steps", "0")));
        NodeEventRecorder.Record(metrics, Make("profile.applied", ("steps", "0")));
        NodeEventRecorder.Record(metrics, Make("profile.failed"));
        NodeEventRecorder.Record(metrics, Make("profile.drift"));
        NodeEventRecorder.Record(metrics, Make("inventory.changed"));

        var samples = Scrape(metrics);

        double Outcome(string o) => samples.Single(s => s.Name == "aifactory_profile_applies_total" && s.Labels["outcome"] == o).Value;
        Assert.Equal(1, Outcome("applied"));
        Assert.Equal(2, Outcome("unchanged"));
        Assert.Equal(1, Outcome("failed"));
        // A drift event that names no kinds (an older publisher) still counts, as "profile".
        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_drift_detected_total" && s.Labels["kind"] == "profile").Value);
    }

    [Fact]
    public void Drift_is_counted_once_per_kind_of_difference_and_lease_drift_as_lease()
    {
        var metrics = new AgentMetrics();
        NodeEventRecorder.Record(metrics, Make("profile.drift", ("steps", "3"), ("kinds", "bind,hugepages")));
        NodeEventRecorder.Record(metrics, Make("profile.drift", ("steps", "1"), ("kinds", "hugepages")));
        NodeEventRecorder.Record(metrics, Make("profile.drift", ("steps", "0"), ("kinds", "invalid")));
        NodeEventRecorder.Record(metrics, Make("lease.drift"));
        NodeEventRecorder.Record(metrics, Make("lease.drift"));

        var samples = Scrape(metrics);

        Dictionary<string, double> byKind = samples.Where(s => s.Name == "aifactory_drift_detected_total").ToDictionary(s => s.Labels["kind"], s => s.Value);
        Assert.Equal(new Dictionary<string, double> { ["bind"] = 1, ["hugepages"] = 2, ["invalid"] = 1, ["lease"] = 2 }, byKind);
    }

    [Fact]
    public void A_profile_events_duration_lands_in_the_apply_histogram_under_its_outcome()
    {
        var metrics = new AgentMetrics();
        NodeEventRecorder.Record(metrics, Make("profile.applied", ("steps", "2"), ("duration_seconds", "0.75")));
        NodeEventRecorder.Record(metrics, Make("profile.refused", ("duration_seconds", "0.002")));
        NodeEventRecorder.Record(metrics, Make("profile.failed", ("duration_seconds", "not a number")));

        var samples = Scrape(metrics);

        ExpositionParser.Sample Series(string name, string outcome) =>
            samples.Single(s => s.Name == name && s.Labels["outcome"] == outcome && !s.Labels.ContainsKey("le"));
        Assert.Equal(1, Series("aifactory_profile_apply_duration_seconds_count", "applied").Value);
        Assert.Equal(0.75, Series("aifactory_profile_apply_duration_seconds_sum", "applied").Value, 6);
        Assert.Equal(1, Series("aifactory_profile_apply_duration_seconds_count", "refused").Value);
        Assert.DoesNotContain(samples, s => s.Name.StartsWith("aifactory_profile_apply_duration", StringComparison.Ordinal) && s.Labels["outcome"] == "failed");
        Assert.Equal(1, Series("aifactory_profile_applies_total", "failed").Value);
    }

    [Fact]
    public void A_gpu_xid_event_becomes_that_gpus_last_xid_and_other_gpus_stay_at_zero()
    {
        var metrics = new AgentMetrics();
        NodeEventRecorder.Record(metrics, Make("gpu.xid", ("uuid", "GPU-a"), ("xid", "79")));
        NodeEventRecorder.Record(metrics, Make("gpu.xid", ("uuid", "GPU-a"), ("xid", "13")));
        NodeEventRecorder.Record(metrics, Make("gpu.xid", ("uuid", "GPU-b"), ("xid", "bogus")));

        Assert.Equal(13, metrics.LastXid("GPU-a"));
        Assert.Equal(0, metrics.LastXid("GPU-b"));
        Assert.Equal(0, metrics.LastXid("GPU-c"));
    }
}
