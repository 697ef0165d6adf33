using AiFactory.Agent.Metrics;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Host.Model.Topology;
using AiFactory.Metrics.Tests.Fixtures;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace AiFactory.Metrics.Tests.Collectors;

/// <summary>
/// AER counters read from a sysfs tree shaped like the DGX H100's: a malformed aer_dev_* file on one device costs
/// only that device's counters, never the node snapshot the pci, numa and lease collectors share.
/// </summary>
public sealed class AerFileSpecs : IDisposable
{
    private readonly string _sys = Path.Combine(Path.GetTempPath(), "aifactory-metrics-aer-" + Guid.NewGuid().ToString("N"));
    private readonly HostTopology _topology = DgxH100.Node(vfioGpus: 2).Topology;

    public AerFileSpecs()
    {
        WriteAer(DgxH100.GpuAddress(0).ToString(), "aer_dev_fatal", "garbage line\n");
        WriteAer(DgxH100.GpuAddress(0).ToString(), "aer_dev_correctable", "RxErr 1\n");
        WriteAer(DgxH100.GpuAddress(1).ToString(), "aer_dev_correctable", "RxErr 2\nBadTLP 3\nTOTAL_ERR_COR 5\n");
    }

    [Fact]
    public void A_malformed_aer_file_on_one_gpu_leaves_out_only_its_counters_and_every_collector_succeeds()
    {
        var logger = new RecordingLogger<AerFileSpecs>();
        MetricsScraper scraper = Scraper(logger);

        var samples = ExpositionParser.Parse(Scrapes.Text(scraper), openMetrics: false);

        Assert.All(samples.Where(s => s.Name == "aifactory_scrape_collector_success"), s => Assert.Equal(1, s.Value));
        Assert.Equal(3, samples.Count(s => s.Name == "aifactory_scrape_collector_success"));
        var aer = samples.Where(s => s.Name == "aifactory_pci_aer_errors_total").ToList();
        Assert.Equal(2, aer.Count);
        Assert.All(aer, s => Assert.Equal(DgxH100.GpuAddress(1).ToString(), s.Labels["address"]));
        Assert.Contains(samples, s => s.Name == "aifactory_pci_device_info" && s.Labels["address"] == DgxH100.GpuAddress(0).ToString());
        Assert.Contains(samples, s => s.Name == "aifactory_numa_cpus");
        Assert.Contains(samples, s => s.Name.StartsWith("aifactory_lease_", StringComparison.Ordinal));
    }

    [Fact]
    public void The_malformed_file_is_logged_once_naming_the_file_the_device_and_the_raw_line_not_at_every_scrape()
    {
        var logger = new RecordingLogger<AerFileSpecs>();
        MetricsScraper scraper = Scraper(logger);

        Scrapes.Text(scraper);
        Scrapes.Text(scraper);
        Scrapes.Text(scraper);

        var warning = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains($"aer_dev_fatal for {DgxH100.GpuAddress(0)}", warning.Message, StringComparison.Ordinal);
        Assert.Contains("\"garbage line\"", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Once_the_file_parses_again_the_devices_counters_come_back()
    {
        MetricsScraper scraper = Scraper(new RecordingLogger<AerFileSpecs>());
        Scrapes.Text(scraper);
        WriteAer(DgxH100.GpuAddress(0).ToString(), "aer_dev_fatal", "DLP 0\n");

        var samples = ExpositionParser.Parse(Scrapes.Text(scraper), openMetrics: false);

        Assert.Contains(samples, s => s.Name == "aifactory_pci_aer_errors_total" && s.Labels["address"] == DgxH100.GpuAddress(0).ToString() && s.Labels["severity"] == "fatal");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_sys, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private MetricsScraper Scraper(ILogger logger) => new(
        [new PciDeviceCollector(), new NumaCollector(), new LeaseCollector()],
        new InventoryNodeSource(() => _topology, _sys, logger: logger),
        new StaticLeaseSource(DgxH100.Leases(vfioGpus: 2)),
        null,
        logger);

    private void WriteAer(string address, string file, string text)
    {
        string dir = Path.Combine(_sys, "bus", "pci", "devices", address);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, file), text);
    }
}
