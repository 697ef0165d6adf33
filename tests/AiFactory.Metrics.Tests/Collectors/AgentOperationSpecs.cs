using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Agent.Inventory;
using AiFactory.Agent.Metrics;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Hardware.Vfio;
using AiFactory.Metrics.Tests.Fixtures;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Metrics.Tests.Collectors;

/// <summary>The agent's own histograms fed by the real operations: a discovery run and a node profile apply.</summary>
public sealed class AgentOperationSpecs : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "aifactory-metrics-ops-" + Guid.NewGuid().ToString("N"));

    public AgentOperationSpecs()
    {
        TextArchive.Extract(Path.Combine(HardwareFixtures.RepositoryRoot, "hardware-fixtures", "workstation.ttar"), _root);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static List<ExpositionParser.Sample> Scrape(AgentMetrics metrics) =>
        ExpositionParser.Parse(Scrapes.Text(Scrapes.Scraper(null, null, null, metrics)), openMetrics: false);

    private static double? Count(List<ExpositionParser.Sample> samples, string family, string outcome) =>
        samples.SingleOrDefault(s => s.Name == family + "_count" && s.Labels["outcome"] == outcome)?.Value;

    [Fact]
    public void The_first_discovery_is_counted_and_a_rescan_that_finds_nothing_changed_runs_none()
    {
        var metrics = new AgentMetrics();
        var inventory = new InventoryService(
            new AgentOptions { SysfsRoot = Path.Combine(_root, "sys"), ProcfsRoot = Path.Combine(_root, "proc") },
            new EventBus(), NullLogger<InventoryService>.Instance, metrics);

        _ = inventory.Current;
        double? afterFirst = Count(Scrape(metrics), "aifactory_discovery_duration_seconds", "ok");
        inventory.Rescan("rescan");
        var samples = Scrape(metrics);

        Assert.Equal(1, afterFirst);
        Assert.Equal(1, Count(samples, "aifactory_discovery_duration_seconds", "ok"));
        Assert.True(samples.Single(s => s.Name == "aifactory_discovery_duration_seconds_sum").Value > 0);
        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_discovery_duration_seconds_bucket" && s.Labels["le"] == "+Inf").Value);
    }

    [Fact]
    public async Task A_profile_apply_through_the_event_bus_moves_the_apply_histogram_and_the_outcome_counter()
    {
        var metrics = new AgentMetrics();
        var bus = new EventBus();
        string state = Path.Combine(_root, "state");
        var manager = new ProfileManager(
            new ProfileEnvironment
            {
                Sysfs = new SysfsTree(Path.Combine(_root, "sys")),
                SysfsWriter = new SysfsWriter(Path.Combine(_root, "sys")),
                StateDir = state,
                Groups = new VfioGroupProbe(Path.Combine(_root, "dev")),
                Systemctl = new Systemctl("/bin/false"),
                Modules = new ModuleLoader("/bin/false"),
                VfioOverridesDir = Path.Combine(state, "vfio-overrides.d"),
                ConfigProfilePath = Path.Combine(state, "absent.yaml"),
            },
            bus,
            NullLogger<ProfileManager>.Instance);
        using var recorder = new NodeEventRecorder(bus, metrics);
        await recorder.StartAsync(CancellationToken.None);

        ProfileApplyResult result = manager.Apply("version: v1\n", "test");
        List<ExpositionParser.Sample> samples = Scrape(metrics);
        DateTime deadline = DateTime.UtcNow + Patience;
        while (Count(samples, "aifactory_profile_apply_duration_seconds", "unchanged") is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            samples = Scrape(metrics);
        }

        await recorder.StopAsync(CancellationToken.None);

        Assert.True(result.Report.Succeeded);
        Assert.Equal(1, Count(samples, "aifactory_profile_apply_duration_seconds", "unchanged"));
        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_profile_applies_total" && s.Labels["outcome"] == "unchanged").Value);
    }
}
