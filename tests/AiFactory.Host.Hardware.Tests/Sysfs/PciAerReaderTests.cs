using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Pci;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Sysfs;

public sealed class PciAerReaderTests
{
    [Fact]
    public void Parsing_aer_dev_correctable_keeps_each_error_and_drops_the_total()
    {
        var counters = PciAerReader.Parse("RxErr 0\nBadTLP 3\nBadDLLP 1\nTOTAL_ERR_COR 4\n", "aer_dev_correctable");

        Assert.Equal([new("RxErr", 0), new("BadTLP", 3), new KeyValuePair<string, long>("BadDLLP", 1)], counters);
    }

    [Fact]
    public void Parsing_an_empty_file_gives_no_counters()
    {
        Assert.Empty(PciAerReader.Parse("\n", "aer_dev_fatal"));
    }

    [Theory]
    [InlineData("RxErr x\n", "RxErr x")]
    [InlineData("RxErr\n", "RxErr")]
    [InlineData("RxErr -1\n", "RxErr -1")]
    [InlineData("Rx\u001b[2JErr x\n", "Rx\\x1b[2JErr x")]
    public void A_malformed_line_is_reported_with_the_file_the_device_and_the_raw_line(string text, string line)
    {
        var error = Assert.Throws<FormatException>(() => PciAerReader.Parse(text, "aer_dev_correctable for 0000:1b:00.0"));

        Assert.Equal($"failed to parse aer_dev_correctable for 0000:1b:00.0 line \"{line}\": want \"<name> <count>\"", error.Message);
    }

    [Fact]
    public void Reading_a_tree_gives_each_severity_and_null_for_a_function_without_aer_files()
    {
        string root = Path.Combine(Path.GetTempPath(), "aifactory-aer-" + Guid.NewGuid().ToString("N"));
        string dir = Path.Combine(root, "bus", "pci", "devices", "0000:1b:00.0");
        Directory.CreateDirectory(dir);
        Directory.CreateDirectory(Path.Combine(root, "bus", "pci", "devices", "0000:43:00.0"));
        try
        {
            File.WriteAllText(Path.Combine(dir, "aer_dev_correctable"), "RxErr 2\nTOTAL_ERR_COR 2\n");
            File.WriteAllText(Path.Combine(dir, "aer_dev_fatal"), "DLP 1\nTOTAL_ERR_FATAL 1\n");
            var reader = new PciAerReader(new SysfsRoot(root));
            var warnings = new DiscoveryWarnings();

            AerCounters? read = reader.Read(PciAddress.Parse("0000:1b:00.0"), warnings);
            AerCounters? none = reader.Read(PciAddress.Parse("0000:43:00.0"), warnings);

            Assert.NotNull(read);
            Assert.Equal(new KeyValuePair<string, long>("RxErr", 2), Assert.Single(read.Correctable));
            Assert.Empty(read.NonFatal);
            Assert.Equal("DLP", Assert.Single(read.Fatal).Key);
            Assert.Null(none);
            Assert.Empty(warnings.Items);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Counters_read_again_show_the_kernels_new_values()
    {
        string root = Path.Combine(Path.GetTempPath(), "aifactory-aer-" + Guid.NewGuid().ToString("N"));
        string dir = Path.Combine(root, "bus", "pci", "devices", "0000:1b:00.0");
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "aer_dev_nonfatal"), "CmpltTO 0\n");
            var reader = new PciAerReader(new SysfsRoot(root));
            reader.Read(PciAddress.Parse("0000:1b:00.0"), new DiscoveryWarnings());
            File.WriteAllText(Path.Combine(dir, "aer_dev_nonfatal"), "CmpltTO 5\n");

            AerCounters? read = reader.Read(PciAddress.Parse("0000:1b:00.0"), new DiscoveryWarnings());

            Assert.Equal(5, Assert.Single(read!.NonFatal).Value);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_dgx_h100_capture_has_no_aer_files_so_its_gpus_read_as_null()
    {
        var reader = new PciAerReader(new SysfsRoot(Path.Combine(HardwareFixtures.Root("dgx-h100"), "sys")));

        Assert.Null(reader.Read(PciAddress.Parse("0000:18:00.0"), new DiscoveryWarnings()));
    }
}
