using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Metrics.Tests.Fixtures;

namespace AiFactory.Metrics.Tests.Exposition;

/// <summary><c>promtool check metrics</c> (Debian prometheus 2.42) on whole expositions.</summary>
public sealed class PromtoolSpecs
{
    [Fact]
    public void Promtool_finds_nothing_wrong_with_our_series_and_only_the_dcgm_naming_it_must_keep()
    {
        (int exit, string output) = Promtool.CheckMetrics(Scrapes.Text(Scrapes.GoldenHost()));

        // 0: clean; 3: lint findings only (1 would be a parse error).
        Assert.True(exit is 0 or 3, $"promtool exited {exit}: {output}");
        Assert.Empty(Promtool.UnexpectedFindings(output));
        Assert.DoesNotContain("aifactory_", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Promtool_is_clean_on_everything_but_the_gpu_series()
    {
        var scraper = Scrapes.Scraper(DgxH100.Node(2), gpus: null, DgxH100.Leases(2));

        (int exit, string output) = Promtool.CheckMetrics(Scrapes.Text(scraper));

        Assert.Equal(0, exit);
        Assert.Equal(string.Empty, output.Trim());
    }

    [Fact]
    public void Hostile_label_values_stay_valid_for_promtool_and_a_strict_parser_and_read_back_unchanged()
    {
        const string hostile = "NVIDIA \"H100\" \\ 80GB\nHBM3 \\n } { , =\"x\" é";
        var scraper = Scrapes.Scraper(null, DgxH100.Gpus(0, modelName: hostile), null);
        string text = Scrapes.Text(scraper);
        string open = Scrapes.Text(scraper, ExpositionFormat.OpenMetrics100);

        (int exit, string output) = Promtool.CheckMetrics(text);
        var samples = ExpositionParser.Parse(text, openMetrics: false);
        var openSamples = ExpositionParser.Parse(open, openMetrics: true);

        Assert.True(exit is 0 or 3, $"promtool exited {exit}: {output}");
        Assert.Empty(Promtool.UnexpectedFindings(output));
        Assert.All(samples.Where(s => s.Name.StartsWith("DCGM_", StringComparison.Ordinal)), s => Assert.Equal(hostile, s.Labels["modelName"]));
        Assert.All(openSamples.Where(s => s.Name.StartsWith("DCGM_", StringComparison.Ordinal)), s => Assert.Equal(hostile, s.Labels["modelName"]));
    }
}
