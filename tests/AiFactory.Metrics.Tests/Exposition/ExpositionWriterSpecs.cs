using System.Text;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Metrics.Tests.Fixtures;

namespace AiFactory.Metrics.Tests.Exposition;

public sealed class ExpositionWriterSpecs
{
    private static readonly MetricFamily Requests = new("test_requests", MetricType.Counter, "Requests served.", "path");
    private static readonly MetricFamily Temperature = new("test_temperature_celsius", MetricType.Gauge, "A temperature.", "sensor");
    private static readonly MetricFamily Energy = new("TEST_ENERGY", MetricType.LegacyCounter, "Energy since boot.");
    private static readonly MetricFamily Latency = new("test_latency_seconds", MetricType.Histogram, "Latency.", "method");

    private static string Write(ExpositionFormat format, Action<ExpositionWriter> write)
    {
        using var buffer = new PooledBuffer(16);
        var writer = new ExpositionWriter(buffer, format);
        write(writer);
        writer.Finish();
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void A_counter_is_typed_by_its_sample_name_in_text_format_and_by_its_family_name_in_OpenMetrics()
    {
        string text = Write(ExpositionFormat.Text004, w => w.Sample(Requests, ["/a"], 3));
        string open = Write(ExpositionFormat.OpenMetrics100, w => w.Sample(Requests, ["/a"], 3));

        Assert.Equal("# HELP test_requests_total Requests served.\n# TYPE test_requests_total counter\ntest_requests_total{path=\"/a\"} 3\n", text);
        Assert.Equal("# HELP test_requests Requests served.\n# TYPE test_requests counter\ntest_requests_total{path=\"/a\"} 3\n# EOF\n", open);
    }

    [Fact]
    public void A_dcgm_counter_without_total_is_a_counter_in_text_format_and_unknown_in_OpenMetrics()
    {
        Assert.Contains("# TYPE TEST_ENERGY counter\nTEST_ENERGY 5\n", Write(ExpositionFormat.Text004, w => w.Sample(Energy, 5)), StringComparison.Ordinal);
        Assert.Contains("# TYPE TEST_ENERGY unknown\nTEST_ENERGY 5\n", Write(ExpositionFormat.OpenMetrics100, w => w.Sample(Energy, 5)), StringComparison.Ordinal);
    }

    [Fact]
    public void Declaring_a_counter_with_total_in_its_family_name_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new MetricFamily("x_total", MetricType.Counter, "x"));
        Assert.Contains("without _total", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Label_values_escape_backslash_quote_and_newline()
    {
        string text = Write(ExpositionFormat.Text004, w => w.Sample(Temperature, ["a\\b \"c\"\nd é"], 1));

        Assert.Contains("test_temperature_celsius{sensor=\"a\\\\b \\\"c\\\"\\nd é\"} 1\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_null_label_value_leaves_its_key_out_and_no_labels_leave_no_braces()
    {
        string text = Write(ExpositionFormat.Text004, w => w.Sample(Temperature, [null], 1.5));

        Assert.EndsWith("\ntest_temperature_celsius 1.5\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Special_values_are_written_as_the_format_spells_them()
    {
        string text = Write(ExpositionFormat.Text004, w =>
        {
            w.Sample(Temperature, ["inf"], double.PositiveInfinity);
            w.Sample(Temperature, ["-inf"], double.NegativeInfinity);
            w.Sample(Temperature, ["nan"], double.NaN);
            w.Sample(Temperature, ["small"], 1e-7);
            w.Sample(Temperature, ["big"], 123456789012);
        });

        Assert.Contains("{sensor=\"inf\"} +Inf\n", text, StringComparison.Ordinal);
        Assert.Contains("{sensor=\"-inf\"} -Inf\n", text, StringComparison.Ordinal);
        Assert.Contains("{sensor=\"nan\"} NaN\n", text, StringComparison.Ordinal);
        Assert.Contains("{sensor=\"small\"} 1E-07\n", text, StringComparison.Ordinal);
        Assert.Contains("{sensor=\"big\"} 123456789012\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_histogram_writes_cumulative_buckets_with_le_then_sum_and_count()
    {
        var h = new AiFactory.Agent.Metrics.Histogram([0.1, 1]);
        h.Observe(0.05);
        h.Observe(0.5);
        h.Observe(7);
        LabelSet labels = LabelSet.Create(["method"], ["/x"]);

        string text = Write(ExpositionFormat.Text004, w => w.Histogram(Latency, labels, h.Snapshot()));
        string open = Write(ExpositionFormat.OpenMetrics100, w => w.Histogram(Latency, labels, h.Snapshot()));

        Assert.Equal(
            "# HELP test_latency_seconds Latency.\n# TYPE test_latency_seconds histogram\n" +
            "test_latency_seconds_bucket{method=\"/x\",le=\"0.1\"} 1\n" +
            "test_latency_seconds_bucket{method=\"/x\",le=\"1\"} 2\n" +
            "test_latency_seconds_bucket{method=\"/x\",le=\"+Inf\"} 3\n" +
            "test_latency_seconds_sum{method=\"/x\"} 7.55\n" +
            "test_latency_seconds_count{method=\"/x\"} 3\n", text);
        Assert.Contains("le=\"1.0\"} 2\n", open, StringComparison.Ordinal);
        Assert.EndsWith("# EOF\n", open, StringComparison.Ordinal);
    }

    [Fact]
    public void A_family_interrupted_by_another_cannot_be_resumed()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Write(ExpositionFormat.Text004, w =>
        {
            w.Sample(Temperature, ["a"], 1);
            w.Sample(Requests, ["/"], 1);
            w.Sample(Temperature, ["b"], 1);
        }));

        Assert.Contains("test_temperature_celsius", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rolling_back_drops_the_output_and_lets_the_family_be_written_again()
    {
        string text = Write(ExpositionFormat.Text004, w =>
        {
            ExpositionWriter.Mark mark = w.GetMark();
            w.Sample(Temperature, ["half-written"], 1);
            w.Rollback(mark);
            w.Sample(Temperature, ["b"], 2);
        });

        Assert.DoesNotContain("half-written", text, StringComparison.Ordinal);
        Assert.Single(ExpositionParser.Parse(text, openMetrics: false));
    }

    [Fact]
    public void Help_text_escapes_backslash_and_newline_and_in_OpenMetrics_also_quotes()
    {
        var family = new MetricFamily("test_help", MetricType.Gauge, "a \\ b\n\"c\"");

        Assert.Contains("# HELP test_help a \\\\ b\\n\"c\"\n", Write(ExpositionFormat.Text004, w => w.Sample(family, 1)), StringComparison.Ordinal);
        Assert.Contains("# HELP test_help a \\\\ b\\n\\\"c\\\"\n", Write(ExpositionFormat.OpenMetrics100, w => w.Sample(family, 1)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("text/plain", false)]
    [InlineData("*/*", false)]
    [InlineData("application/openmetrics-text", true)]
    [InlineData("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", true)]
    [InlineData("application/openmetrics-text;version=0.0.1", true)]
    [InlineData("application/openmetrics-text;version=2.0.0", false)]
    [InlineData("text/plain;q=1, application/openmetrics-text;q=0.5", false)]
    [InlineData("application/openmetrics-text; version=1.0.0; q=0", false)]
    public void The_Accept_header_picks_OpenMetrics_only_when_it_is_preferred(string? accept, bool openMetrics) =>
        Assert.Equal(openMetrics ? ExpositionFormat.OpenMetrics100 : ExpositionFormat.Text004, ExpositionFormats.Negotiate(accept));

    [Theory]
    [InlineData(null, false)]
    [InlineData("identity", false)]
    [InlineData("gzip", true)]
    [InlineData("deflate, gzip;q=0.5", true)]
    [InlineData("gzip;q=0", false)]
    [InlineData("*", true)]
    [InlineData("gzip;q=0, *", false)]
    [InlineData("*, gzip;q=0", false)]
    [InlineData("*;q=0, gzip", true)]
    [InlineData("*;q=0", false)]
    [InlineData("br, *;q=0.1", true)]
    public void Accept_Encoding_gzip_asks_for_compression(string? acceptEncoding, bool expected) =>
        Assert.Equal(expected, AiFactory.Agent.Metrics.MetricsEndpoint.AcceptsGzip(acceptEncoding));
}
