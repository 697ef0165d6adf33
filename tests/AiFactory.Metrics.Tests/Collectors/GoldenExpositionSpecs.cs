using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Metrics.Tests.Fixtures;

namespace AiFactory.Metrics.Tests.Collectors;

/// <summary>The whole exposition of fixture hosts, compared with checked-in files.</summary>
public sealed class GoldenExpositionSpecs
{
    [Fact]
    public void The_dgx_h100_with_MIG_and_vfio_bound_GPUs_matches_its_golden_text_exposition() =>
        Golden.AssertMatches("dgx-h100-mig.prom", Scrapes.Stable(Scrapes.Text(Scrapes.GoldenHost())));

    [Fact]
    public void The_dgx_h100_with_MIG_and_vfio_bound_GPUs_matches_its_golden_OpenMetrics_exposition() =>
        Golden.AssertMatches("dgx-h100-mig.openmetrics", Scrapes.Stable(Scrapes.Text(Scrapes.GoldenHost(), ExpositionFormat.OpenMetrics100)));

    [Fact]
    public void The_golden_exposition_parses_strictly_in_both_formats()
    {
        var text = ExpositionParser.Parse(Scrapes.Text(Scrapes.GoldenHost()), openMetrics: false);
        var open = ExpositionParser.Parse(Scrapes.Text(Scrapes.GoldenHost(), ExpositionFormat.OpenMetrics100), openMetrics: true);

        Assert.Equal(text.Count, open.Count);
    }
}
