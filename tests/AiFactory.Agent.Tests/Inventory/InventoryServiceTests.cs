using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Agent.Inventory;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Fixtures;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Agent.Tests.Inventory;

public sealed class InventoryServiceTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly EventBus _events = new();

    public InventoryServiceTests()
    {
        string repo = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(repo, "hardware-fixtures")))
        {
            repo = Path.GetDirectoryName(repo)!;
        }

        TextArchive.Extract(Path.Combine(repo, "hardware-fixtures", "workstation.ttar"), _dir.Path);
    }

    public void Dispose() => _dir.Dispose();

    private string Sys(string relative) => Path.Combine(_dir.Path, "sys", relative);

    private InventoryService Service() => new(
        new AgentOptions { SysfsRoot = Path.Combine(_dir.Path, "sys"), ProcfsRoot = Path.Combine(_dir.Path, "proc") },
        _events,
        NullLogger<InventoryService>.Instance);

    [Fact]
    public void The_generation_stays_when_nothing_changed_and_moves_once_on_a_driver_unbind()
    {
        InventoryService service = Service();
        Assert.Equal(1ul, service.Generation);

        Assert.False(service.Rescan("rescan"));
        File.Delete(Sys("devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver"));
        Assert.True(service.Rescan("uevent"));
        Assert.False(service.Rescan("rescan"));

        Assert.Equal(2ul, service.Generation);
        Assert.Equal(string.Empty, service.Snapshot().PciDevices.Single(d => d.Address == "0000:01:00.0").Driver);
        Assert.Contains(_events.Recent(), e => e.Kind == "inventory.changed");
    }

    [Fact]
    public void Free_memory_changing_does_not_move_the_generation()
    {
        InventoryService service = Service();
        string meminfo = Sys("devices/system/node/node0/meminfo");
        File.WriteAllText(meminfo, File.ReadAllText(meminfo).Replace("MemFree:", "MemFree: 1", StringComparison.Ordinal));

        Assert.False(service.Rescan("rescan"));
        Assert.Equal(1ul, service.Generation);
    }

    [Fact]
    public void The_inventory_json_leaves_out_an_unknown_numa_node_instead_of_saying_zero()
    {
        HostInventory inv = Service().Snapshot();

        string json = new JsonFormatter(JsonFormatter.Settings.Default).Format(inv.PciDevices.Single(d => d.Address == "0000:01:00.0"));

        Assert.DoesNotContain("numaNode", json, StringComparison.Ordinal);
        Assert.Contains("\"kind\": \"gpu\"", json, StringComparison.Ordinal);
        Assert.Contains("\"iommuGroup\": 1", json, StringComparison.Ordinal);
    }

    [Fact]
    public void The_topology_tree_shows_the_shared_iommu_group_of_the_gpu()
    {
        TopologyNode root = TopologyTree.Build(Service().Snapshot());

        TopologyNode gpu = Flatten(root).Single(n => n.Id == "0000:01:00.0");
        Assert.Equal("gpu", gpu.Kind);
        Assert.Equal("0000:01:00.1,0000:02:00.0", gpu.Attributes["iommu_group_shared_with"]);
        Assert.Equal("socket", root.Children[0].Kind);
    }

    private static IEnumerable<TopologyNode> Flatten(TopologyNode n) => n.Children.SelectMany(Flatten).Prepend(n);
}
