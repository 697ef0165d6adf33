using System.Text.Json;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Grpc.Client;

namespace AiFactory.EndToEnd.Tests.Discovery;

/// <summary>
/// The agent running on the dgx-h100 fixture: <c>Inventory.GetTopology</c> and <c>Inventory.WatchInventory</c> over
/// gRPC, and <c>aifactoryctl topology</c> (text and <c>--json</c>) against it.
/// </summary>
public sealed class InventoryApiTests : IDisposable
{
    private readonly AgentUnderTest _agent = AgentUnderTest.Start(fixture: "dgx-h100");

    public InventoryApiTests()
    {
        Assert.True(_agent.NextNotification() is not null, "no READY=1 from the agent: " + _agent.Process.Describe());
    }

    public void Dispose() => _agent.Dispose();

    private string Fixture(string relative) => Path.Combine(_agent.Dir, "fixture", relative);

    [Fact]
    public async Task Get_topology_draws_both_sockets_with_their_gpus_under_their_numa_nodes()
    {
        using GrpcChannel channel = _agent.Channel();

        GetTopologyResponse topology = await channel.UnaryAsync("/aifactory.agent.v1.Inventory/GetTopology", new GetTopologyRequest(), GetTopologyResponse.Parser);

        Assert.Equal(1ul, topology.Generation);
        Assert.Equal("machine", topology.Root.Kind);
        Assert.Equal(["0", "1"], topology.Root.Children.Where(c => c.Kind == "socket").Select(c => c.Id));
        TopologyNode node1 = topology.Root.Children.Single(c => c.Id == "1").Children.Single(c => c.Kind == "numa_node");
        Assert.Equal("1", node1.Id);
        Assert.Equal(4, Flatten(node1).Count(n => n.Kind == "gpu"));
        Assert.Contains(Flatten(node1), n => n.Kind == "gpu" && n.Id == "0000:9a:00.0");
        Assert.Equal(8, Flatten(topology.Root).Count(n => n.Kind == "gpu"));
    }

    [Fact]
    public async Task Watch_inventory_delivers_the_current_inventory_and_then_a_new_generation_after_a_change()
    {
        using GrpcChannel channel = _agent.Channel();
        using var cts = new CancellationTokenSource(AgentUnderTest.Patience);
        var changes = new List<InventoryChange>();
        try
        {
            await foreach (InventoryChange change in channel.ServerStreamingAsync("/aifactory.agent.v1.Inventory/WatchInventory", new WatchInventoryRequest { SendCurrent = true }, InventoryChange.Parser, new CallOptions(CancellationToken: cts.Token)))
            {
                changes.Add(change);
                if (changes.Count == 1)
                {
                    // Unbind the driver of GPU 0000:9a:00.0: the periodic rescan (every 30 s on a fixture) must see it.
                    File.Delete(Fixture("sys/devices/pci0000:97/0000:97:01.0/0000:98:00.0/0000:99:00.0/0000:9a:00.0/driver"));
                }
                else
                {
                    break;
                }
            }
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled)
        {
            Assert.Fail($"no change delivered within {AgentUnderTest.Patience}: " + _agent.Process.Describe());
        }

        Assert.Equal(2, changes.Count);
        Assert.Equal((1ul, "initial"), (changes[0].Generation, changes[0].Reason));
        Assert.Equal(2ul, changes[1].Generation);
        Assert.Equal(2ul, changes[1].Inventory.Generation);
        Assert.Equal(string.Empty, changes[1].Inventory.PciDevices.Single(d => d.Address == "0000:9a:00.0").Driver);

        // Leaving the stream is the client's right: the agent does not warn about it.
        _agent.Process.Terminate();
        Assert.True(await _agent.Process.WaitForExitAsync(AgentUnderTest.Patience), _agent.Process.Describe());
        Assert.DoesNotContain(_agent.Process.Stdout.Concat(_agent.Process.Stderr), l => l.Contains("ignored the end of its call", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Aifactoryctl_topology_prints_the_tree()
    {
        (int status, string stdout, string stderr) = await Ctl("topology");

        Assert.True(status == 0, stderr);
        Assert.Contains("Socket 0", stdout, StringComparison.Ordinal);
        Assert.Contains("Socket 1", stdout, StringComparison.Ordinal);
        Assert.Contains("NUMA node 1", stdout, StringComparison.Ordinal);
        Assert.Contains("0000:9a:00.0 gpu H100 SXM5 80GB", stdout, StringComparison.Ordinal);
        Assert.EndsWith("(inventory generation 1)", stdout.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Aifactoryctl_topology_json_is_the_protobuf_json_of_the_tree()
    {
        (int status, string stdout, string stderr) = await Ctl("topology", "--json");

        Assert.True(status == 0, stderr);
        using JsonDocument json = JsonDocument.Parse(stdout);
        Assert.Equal("1", json.RootElement.GetProperty("generation").GetString());
        JsonElement root = json.RootElement.GetProperty("root");
        Assert.Equal("machine", root.GetProperty("kind").GetString());
        Assert.Equal(["socket", "socket"], root.GetProperty("children").EnumerateArray().Select(c => c.GetProperty("kind").GetString()).Where(k => k == "socket"));
        Assert.Equal(8, Flatten(root).Count(n => n.GetProperty("kind").GetString() == "gpu"));
    }

    private static IEnumerable<TopologyNode> Flatten(TopologyNode n) => n.Children.SelectMany(Flatten).Prepend(n);

    private static IEnumerable<JsonElement> Flatten(JsonElement n) =>
        (n.TryGetProperty("children", out JsonElement c) ? c.EnumerateArray().SelectMany(Flatten) : []).Prepend(n);

    private Task<(int Status, string Stdout, string Stderr)> Ctl(params string[] args) =>
        RunningProcess.RunAsync(Binaries.Cli, [.. args, "--socket", _agent.Socket]);
}
