using System.Text.Json;

namespace AiFactory.EndToEnd.Tests.Discovery;

/// <summary>
/// <c>aifactory-agent discover --json</c> on the dgx-h100 fixture, run as the published binary (native AOT under
/// tools/test.sh): the canonical protobuf JSON must hold the whole machine.
/// </summary>
public sealed class DiscoverCommandTests
{
    [Fact]
    public async Task Discover_json_prints_the_dgx_h100_inventory_in_protobuf_json()
    {
        string root = Unpack("dgx-h100");
        try
        {
            (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, ["discover", "--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc"), "--json", "--strict"]);

            Assert.True(status == 0, stderr);
            using JsonDocument doc = JsonDocument.Parse(stdout);
            JsonElement inv = doc.RootElement;
            Assert.Equal(224, inv.GetProperty("cpus").GetProperty("threads").GetInt32());
            Assert.Equal(2, inv.GetProperty("numaNodes").GetArrayLength());
            JsonElement[] gpus = [.. inv.GetProperty("pciDevices").EnumerateArray().Where(d => d.GetProperty("kind").GetString() == "gpu")];
            Assert.Equal(8, gpus.Length);
            Assert.Equal("H100 SXM5 80GB", gpus[0].GetProperty("modelName").GetString());
            Assert.Equal(8, inv.GetProperty("gpuAffinity").EnumerateArray().Count(a => a.GetProperty("nicsSameSwitch").GetArrayLength() == 1));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Capture_fixture_writes_an_archive_that_unpacks_and_rediscovers()
    {
        string root = Unpack("workstation");
        string archive = Path.Combine(root, "captured.ttar");
        try
        {
            (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, ["capture-fixture", "--sysfs-root", Path.Combine(root, "sys"), "--procfs-root", Path.Combine(root, "proc"), "--out", archive]);
            Assert.True(status == 0, stderr);
            string again = Unpack(archive);
            try
            {
                (status, string stdout, stderr) = await RunningProcess.RunAsync(Binaries.Agent, ["discover", "--sysfs-root", Path.Combine(again, "sys"), "--procfs-root", Path.Combine(again, "proc"), "--json", "--strict"]);
                Assert.True(status == 0, stderr);
                using JsonDocument doc = JsonDocument.Parse(stdout);
                Assert.Equal(9, doc.RootElement.GetProperty("pciDevices").GetArrayLength());
            }
            finally
            {
                Directory.Delete(again, true);
            }
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    private static string Unpack(string fixture) => FixtureTrees.Unpack(fixture);
}
