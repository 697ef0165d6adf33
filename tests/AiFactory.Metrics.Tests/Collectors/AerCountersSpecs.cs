using AiFactory.Agent.Metrics.Sources;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Metrics.Tests.Collectors;

public sealed class AerCountersSpecs
{
    [Fact]
    public void Parsing_aer_dev_correctable_keeps_each_error_and_drops_the_total()
    {
        var counters = AerCounters.Parse("RxErr 0\nBadTLP 3\nBadDLLP 1\nTOTAL_ERR_COR 4\n", "aer_dev_correctable");

        Assert.Equal([new("RxErr", 0), new("BadTLP", 3), new KeyValuePair<string, long>("BadDLLP", 1)], counters);
    }

    [Fact]
    public void A_malformed_line_is_reported_with_the_file_and_the_raw_line()
    {
        var error = Assert.Throws<FormatException>(() => AerCounters.Parse("RxErr x\n", "aer_dev_correctable for 0000:1b:00.0"));

        Assert.Equal("failed to parse aer_dev_correctable for 0000:1b:00.0 line \"RxErr x\": want \"<name> <count>\"", error.Message);
    }

    [Fact]
    public void The_sysfs_reader_reads_a_fixture_tree_and_returns_null_without_aer_files()
    {
        string root = Path.Combine(Path.GetTempPath(), "aifactory-aer-" + Guid.NewGuid().ToString("N"));
        string dir = Path.Combine(root, "bus", "pci", "devices", "0000:1b:00.0");
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(Path.Combine(root, "bus", "pci", "devices", "0000:43:00.0"));
        try
        {
            File.WriteAllText(Path.Combine(dir, "aer_dev_correctable"), "RxErr 2\nTOTAL_ERR_COR 2\n");
            File.WriteAllText(Path.Combine(dir, "aer_dev_fatal"), "DLP 1\nTOTAL_ERR_FATAL 1\n");
            var reader = new SysfsAerReader(root);

            AerCounters? read = reader.Read(PciAddress.Parse("0000:1b:00.0"));

            Assert.NotNull(read);
            Assert.Equal(2, read.Correctable.Single().Value);
            Assert.Empty(read.NonFatal);
            Assert.Equal("DLP", read.Fatal.Single().Key);
            Assert.Null(reader.Read(PciAddress.Parse("0000:43:00.0")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
