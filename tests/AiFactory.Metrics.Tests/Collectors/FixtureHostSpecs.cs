using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Metrics.Tests.Fixtures;
using AiFactory.Tests.Shared;

namespace AiFactory.Metrics.Tests.Collectors;

/// <summary>The node series of the captured hardware fixtures, as discovery reads them.</summary>
public sealed class FixtureHostSpecs
{
    [Fact]
    public void The_dgx_h100_fixture_matches_its_golden_exposition() =>
        Golden.AssertMatches("dgx-h100-fixture.prom", Scrapes.Stable(Scrapes.Text(Scrapes.Scraper(FixtureHosts.Node("dgx-h100"), null, null))));

    [Fact]
    public void The_dgx_h100_fixture_shows_its_eight_gpus_with_their_links_and_numa_nodes()
    {
        var samples = ExpositionParser.Parse(Scrapes.Text(Scrapes.Scraper(FixtureHosts.Node("dgx-h100"), null, null)), openMetrics: false);

        var gpus = samples.Where(s => s.Name == "aifactory_pci_device_info" && s.Labels["kind"] == "gpu").ToList();
        Assert.Equal(8, gpus.Count);
        Assert.All(gpus, g => Assert.Contains(g.Labels["numa_node"], new[] { "0", "1" }));
        Assert.Equal(8, samples.Count(s => s.Name == "aifactory_pci_link_width_lanes" && gpus.Any(g => g.Labels["address"] == s.Labels["address"])));
    }

    [Theory]
    [MemberData(nameof(HardwareFixtures.All), MemberType = typeof(HardwareFixtures))]
    public void Every_fixture_host_gives_an_exposition_promtool_finds_clean(string name)
    {
        string text = Scrapes.Text(Scrapes.Scraper(FixtureHosts.Node(name), null, null));

        (int exit, string output) = Promtool.CheckMetrics(text);
        var samples = ExpositionParser.Parse(text, openMetrics: false);
        ExpositionParser.Parse(Scrapes.Text(Scrapes.Scraper(FixtureHosts.Node(name), null, null), ExpositionFormat.OpenMetrics100), openMetrics: true);

        Assert.Equal(0, exit);
        Assert.Equal(string.Empty, output.Trim());
        Assert.All(samples.Where(s => s.Name == "aifactory_scrape_collector_success"), s => Assert.Equal(1, s.Value));
        Assert.Contains(samples, s => s.Name == "aifactory_numa_cpus");
    }
}
