using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Agent.Inventory;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Tests.Shared;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Agent.Tests.Inventory;

public sealed class InventoryServiceTests : IDisposable
{
    private static readonly JsonFormatter WithDefaults = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
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

    private InventoryService Service(RecordingLogger<InventoryService>? logger = null) => new(
        new AgentOptions { SysfsRoot = Path.Combine(_dir.Path, "sys"), ProcfsRoot = Path.Combine(_dir.Path, "proc") },
        _events,
        logger ?? (ILogger<InventoryService>)NullLogger<InventoryService>.Instance);

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
    public async Task Complete_ends_an_open_watch_with_what_it_had_queued_and_a_later_one_at_once()
    {
        InventoryService service = Service();
        var stream = new Api.InMemoryCallStream<InventoryChange>(new WatchInventoryRequest { SendCurrent = true }, InventoryChange.Parser);
        Task open = service.Definition().Methods["WatchInventory"].InvokeAsync(stream, Api.InMemoryCallStream<InventoryChange>.Context("/aifactory.agent.v1.Inventory/WatchInventory", CancellationToken.None));
        Assert.Equal("initial", (await stream.Responses.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(1))).Reason);

        service.Complete();

        await open.WaitAsync(TimeSpan.FromMinutes(1));
        var later = new Api.InMemoryCallStream<InventoryChange>(new WatchInventoryRequest(), InventoryChange.Parser);
        await service.Definition().Methods["WatchInventory"].InvokeAsync(later, Api.InMemoryCallStream<InventoryChange>.Context("/aifactory.agent.v1.Inventory/WatchInventory", CancellationToken.None))
            .WaitAsync(TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task A_watcher_that_never_reads_holds_back_neither_the_rescan_nor_another_watcher_which_keeps_the_newest_changes()
    {
        InventoryService service = Service();
        string driver = Sys("devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver");
        string target = new FileInfo(driver).LinkTarget!;
        using var stuckCall = new CancellationTokenSource();
        Task stuck = service.Definition().Methods["WatchInventory"].InvokeAsync(
            new NeverReadStream(new WatchInventoryRequest { SendCurrent = true }), Api.InMemoryCallStream<InventoryChange>.Context("/aifactory.agent.v1.Inventory/WatchInventory", stuckCall.Token));
        var reader = new Api.InMemoryCallStream<InventoryChange>(new WatchInventoryRequest(), InventoryChange.Parser);
        Task reading = service.Definition().Methods["WatchInventory"].InvokeAsync(reader, Api.InMemoryCallStream<InventoryChange>.Context("/aifactory.agent.v1.Inventory/WatchInventory", CancellationToken.None));

        for (int i = 0; i < 40; i++)
        {
            if (i % 2 == 0)
            {
                File.Delete(driver);
            }
            else
            {
                File.CreateSymbolicLink(driver, target);
            }

            Assert.True(service.Rescan("uevent"));
        }

        // A watcher that falls behind keeps the newest 16 changes (each carries the whole inventory), not all of them.
        for (ulong generation = 26; generation <= 41; generation++)
        {
            InventoryChange change = await reader.Responses.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(1));
            Assert.Equal((generation, generation, "uevent"), (change.Generation, change.Inventory.Generation, change.Reason));
        }

        Assert.False(reader.Responses.Reader.TryRead(out _));
        await stuckCall.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stuck.WaitAsync(TimeSpan.FromMinutes(1)));
        service.Complete();
        await reading.WaitAsync(TimeSpan.FromMinutes(1));
    }

    [Fact]
    public void A_warning_that_appears_at_a_rescan_is_logged_once()
    {
        var logger = new RecordingLogger<InventoryService>();
        InventoryService service = Service(logger);
        Assert.Equal(1ul, service.Generation);
        Assert.DoesNotContain(logger.Entries, e => e.Level == LogLevel.Warning);

        File.WriteAllText(Sys("devices/pci0000:00/0000:00:01.0/0000:01:00.0/current_link_width"), "banana\n");
        service.Rescan("rescan");
        File.Delete(Sys("devices/pci0000:00/0000:00:01.0/0000:01:00.0/driver"));
        Assert.True(service.Rescan("uevent"));

        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("current_link_width", warning.Message, StringComparison.Ordinal);
        Assert.Contains("banana", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Free_memory_changing_does_not_move_the_generation()
    {
        InventoryService service = Service();
        Assert.Equal(1ul, service.Generation); // the first discovery (in the background) has read the file
        string meminfo = Sys("devices/system/node/node0/meminfo");
        File.WriteAllText(meminfo, File.ReadAllText(meminfo).Replace("MemFree:", "MemFree: 1", StringComparison.Ordinal));

        Assert.False(service.Rescan("rescan"));
        Assert.Equal(1ul, service.Generation);
    }

    [Fact]
    public void Memory_hotplug_moves_the_generation()
    {
        InventoryService service = Service();
        Assert.Equal(1ul, service.Generation); // the first discovery (in the background) has read the file
        string meminfo = Sys("devices/system/node/node0/meminfo");
        File.WriteAllText(meminfo, File.ReadAllText(meminfo).Replace("MemTotal:             131546300", "MemTotal:             148323516", StringComparison.Ordinal));

        Assert.True(service.Rescan("rescan"));
        Assert.Equal(2ul, service.Generation);
        Assert.Equal(148323516L * 1024, service.Snapshot().NumaNodes[0].MemoryTotalBytes);
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
    public void The_inventory_json_leaves_out_the_memory_of_a_node_whose_meminfo_is_unreadable_instead_of_saying_zero()
    {
        File.Delete(Sys("devices/system/node/node0/meminfo"));

        HostInventory inv = Service().Snapshot();

        // As aifactoryctl prints it: with default values, so a known 0 would show.
        string json = WithDefaults.Format(Assert.Single(inv.NumaNodes));
        Assert.DoesNotContain("memoryTotalBytes", json, StringComparison.Ordinal);
        Assert.DoesNotContain("memoryFreeBytes", json, StringComparison.Ordinal);
        Assert.Contains("\"memoryTotalBytes\": \"134703411200\"", WithDefaults.Format(inv), StringComparison.Ordinal);
    }

    [Fact]
    public void The_inventory_json_still_says_zero_for_a_node_whose_meminfo_says_zero()
    {
        File.WriteAllText(Sys("devices/system/node/node0/meminfo"), "Node 0 MemTotal:              0 kB\nNode 0 MemFree:               0 kB\n");

        HostInventory inv = Service().Snapshot();

        string json = WithDefaults.Format(Assert.Single(inv.NumaNodes));
        Assert.Contains("\"memoryTotalBytes\": \"0\"", json, StringComparison.Ordinal);
        Assert.Contains("\"memoryFreeBytes\": \"0\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void The_topology_tree_shows_the_shared_iommu_group_of_the_gpu_under_the_machine_as_its_numa_node_is_unknown()
    {
        TopologyNode root = TopologyTree.Build(Service().Snapshot());

        TopologyNode gpu = Flatten(root).Single(n => n.Id == "0000:01:00.0");
        Assert.Equal("gpu", gpu.Kind);
        Assert.Equal("0000:01:00.1,0000:02:00.0", gpu.Attributes["iommu_group_shared_with"]);
        Assert.Equal("socket", root.Children[0].Kind);
        Assert.Equal(["machine:0", "root_port:0000:00:01.0", "gpu:0000:01:00.0"], TopologyTreeTests.Path(root, "gpu", "0000:01:00.0"));
        Assert.Equal(["machine:0", "socket:0", "numa_node:0"], TopologyTreeTests.Path(root, "numa_node", "0"));
    }

    private static IEnumerable<TopologyNode> Flatten(TopologyNode n) => n.Children.SelectMany(Flatten).Prepend(n);

    /// <summary>A client that opened the stream and never reads: each write waits until the call is cancelled.</summary>
    private sealed class NeverReadStream(IMessage request) : Grpc.Services.IServerCallStream
    {
        private bool _read;

        public ValueTask<System.Buffers.ReadOnlySequence<byte>?> ReadMessageAsync(CancellationToken cancellationToken)
        {
            System.Buffers.ReadOnlySequence<byte>? message = _read ? null : new System.Buffers.ReadOnlySequence<byte>(request.ToByteArray());
            _read = true;
            return ValueTask.FromResult(message);
        }

        public ValueTask WriteMessageAsync(IMessage message, CancellationToken cancellationToken) =>
            new(Task.Delay(Timeout.Infinite, cancellationToken));
    }
}
