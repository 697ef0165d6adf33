using System.Text;
using AiFactory.Agent.Metrics;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Metrics.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Metrics.Tests.Collectors;

/// <summary>The agent's own footprint: read from this (the test) process's /proc/self, checked against what .NET reports.</summary>
public sealed class ProcessCollectorSpecs
{
    [Fact]
    public void The_process_series_describe_this_process()
    {
        IReadOnlyList<ExpositionParser.Sample> samples = Scrape(new ProcessCollector());

        double resident = Value(samples, "process_resident_memory_bytes");
        Assert.InRange(resident, Environment.WorkingSet / 2.0, Environment.WorkingSet * 2.0);
        Assert.True(Value(samples, "process_virtual_memory_bytes") > resident);

        using var self = System.Diagnostics.Process.GetCurrentProcess();
        double started = new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0;
        Assert.InRange(Value(samples, "process_start_time_seconds"), started - 2, started + 2);

        double cpu = Value(samples, "process_cpu_seconds_total");
        Assert.InRange(cpu, 0.01, self.TotalProcessorTime.TotalSeconds + 1);
        Assert.True(Value(samples, "process_max_fds") >= 64);
        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_scrape_collector_success" && s.Labels["collector"] == "process").Value);
    }

    [Fact]
    public void Open_descriptors_and_the_heap_follow_what_the_process_does()
    {
        var collector = new ProcessCollector();
        IReadOnlyList<ExpositionParser.Sample> before = Scrape(collector);
        string path = Path.GetTempFileName();
        try
        {
            using var a = File.OpenRead(path);
            using var b = File.OpenRead(path);
            byte[] garbage = new byte[4 << 20];
            GC.KeepAlive(garbage);
            GC.Collect(0);

            IReadOnlyList<ExpositionParser.Sample> after = Scrape(collector);

            // Other test threads may open and close files meanwhile: at least the two held here are counted.
            Assert.True(Value(after, "process_open_fds") >= 3, "descriptors seen");
            Assert.True(Value(after, "dotnet_gc_allocated_bytes_total") - Value(before, "dotnet_gc_allocated_bytes_total") >= 4 << 20);
            Assert.True(Value(after, "dotnet_collection_count_total", "0") > Value(before, "dotnet_collection_count_total", "0"));
            Assert.True(Value(after, "dotnet_gc_committed_bytes") >= Value(after, "dotnet_gc_heap_size_bytes"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("4242 (aifactory-agent) S 1 4242 4242 0 -1 4194560 2043 0 0 0 137 58 0 0 20 0 10 0 9071 272732160 4300 18446744073709551615", 137, 58, 9071, 272732160, 4300)]
    [InlineData("7 (a) b) (c) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 99 1000 2 0", 5, 6, 99, 1000, 2)]
    public void A_stat_line_is_parsed_after_the_last_parenthesis(string line, long user, long system, long start, long vsize, long rss)
    {
        Assert.Equal(new ProcessCollector.Stat(user, system, start, vsize, rss), ProcessCollector.ParseStat(Encoding.ASCII.GetBytes(line)));
    }

    [Theory]
    [InlineData("", "no command name")]
    [InlineData("1 (x) S 1 2 3", "field 7 is missing")]
    [InlineData("1 (x) S 1 1 1 0 -1 0 0 0 0 0 12x 1 0 0 20 0 1 0 1 1 1", "field 14 is not a count")]
    [InlineData("1 (x) S 1 1 1 0 -1 0 0 0 0 0 -5 1 0 0 20 0 1 0 1 1 1", "field 14 is not a count")]
    public void A_damaged_stat_line_is_refused_naming_the_field(string line, string problem)
    {
        var ex = Assert.Throws<InvalidDataException>(() => ProcessCollector.ParseStat(Encoding.ASCII.GetBytes(line)));
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_descriptor_limit_is_the_soft_limit_and_unlimited_gives_none()
    {
        const string Limits = "Limit                     Soft Limit           Hard Limit           Units     \n" +
            "Max processes             95360                95360                processes \n" +
            "Max open files            1024                 524288               files     \n";
        Assert.Equal(1024, ProcessCollector.MaxOpenFiles(Encoding.ASCII.GetBytes(Limits)));
        Assert.Null(ProcessCollector.MaxOpenFiles(Encoding.ASCII.GetBytes(Limits.Replace("1024   ", "unlimited", StringComparison.Ordinal))));
        Assert.Null(ProcessCollector.MaxOpenFiles("Max processes 1 1 processes\n"u8));
    }

    [Fact]
    public void A_procfs_without_the_files_fails_the_collector_alone()
    {
        string empty = Directory.CreateTempSubdirectory("aifactory-noproc-").FullName;
        try
        {
            IReadOnlyList<ExpositionParser.Sample> samples = Scrape(new ProcessCollector(empty));

            Assert.Equal(0, samples.Single(s => s.Name == "aifactory_scrape_collector_success" && s.Labels["collector"] == "process").Value);
            Assert.DoesNotContain(samples, s => s.Name.StartsWith("process_", StringComparison.Ordinal) || s.Name.StartsWith("dotnet_", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    private static IReadOnlyList<ExpositionParser.Sample> Scrape(ProcessCollector collector)
    {
        var scraper = new MetricsScraper([collector], null, null, null, NullLogger.Instance);
        return ExpositionParser.Parse(Scrapes.Text(scraper), openMetrics: false);
    }

    private static double Value(IReadOnlyList<ExpositionParser.Sample> samples, string name, string? generation = null) =>
        samples.Single(s => s.Name == name && (generation is null || s.Labels["generation"] == generation)).Value;
}
