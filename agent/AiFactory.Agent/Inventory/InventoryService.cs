using System.Threading.Channels;
using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc.Services;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Topology;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Inventory;

/// <summary>
/// <c>aifactory.agent.v1.Inventory</c> and the daemon's current picture of the machine. Holds the latest
/// <see cref="HostTopology"/> (for other features: <see cref="Current"/>) and its wire form with a generation that
/// moves only when something real changed. <see cref="Rescan"/> is called by the uevent listener and the periodic
/// rescan; a rescan with nothing changed costs one cheap hash of the files last read.
/// </summary>
internal sealed partial class InventoryService
{
    public const string ServiceName = "aifactory.agent.v1.Inventory";

    private readonly Lock _gate = new();
    private readonly HostDiscovery _discovery;
    private readonly AgentOptions _options;
    private readonly EventBus _events;
    private readonly ILogger<InventoryService> _logger;
    private readonly Metrics.AgentMetrics _metrics;
    private readonly List<Channel<InventoryChange>> _watchers = [];
    private bool _completed;
    private readonly Task _initial;
    private HostTopology _topology = null!;
    private HostInventory _inventory = null!;
    private HostInventory _stable = null!;

    /// <summary>The warnings of the last discovery, each logged once when it first appeared.</summary>
    private HashSet<DiscoveryWarning> _warnings = [];

    /// <summary>
    /// Starts the first discovery in the background, so the daemon's listeners (and READY=1) do not wait for it;
    /// the first caller that needs the inventory waits for it instead.
    /// </summary>
    public InventoryService(AgentOptions options, EventBus events, ILogger<InventoryService> logger, Metrics.AgentMetrics? metrics = null)
    {
        _options = options;
        _events = events;
        _logger = logger;
        _metrics = metrics ?? new Metrics.AgentMetrics(); // discovery timings go nowhere without the metrics feature
        _discovery = new HostDiscovery(options.SysfsRoot, options.ProcfsRoot);
        _initial = Task.Run(DiscoverFirst);
    }

    private void DiscoverFirst()
    {
        HostTopology topology = _metrics.TimeDiscovery(_discovery.Discover);
        HostInventory inventory = InventoryMapper.ToProto(topology, _options.SysfsRoot, _options.ProcfsRoot);
        inventory.Generation = 1;
        inventory.DiscoveredUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        HostInventory stable = InventoryMapper.Stable(inventory);
        lock (_gate)
        {
            _topology = topology;
            _inventory = inventory;
            _stable = stable;
        }

        LogDiscovered(_logger, topology.PciDevices.Count, topology.Cpus.Cpus.Count, topology.NumaNodes.Count, topology.Warnings.Count);
        LogNewWarnings(topology);
    }

    /// <summary>
    /// Logs the warnings of <paramref name="topology"/> that the previous discovery did not have: a broken file is
    /// logged when it breaks (or changes its value), not at every rescan that still finds it broken.
    /// </summary>
    private void LogNewWarnings(HostTopology topology)
    {
        var now = new HashSet<DiscoveryWarning>(topology.Warnings);
        foreach (DiscoveryWarning w in topology.Warnings)
        {
            if (!_warnings.Contains(w))
            {
                LogWarning(_logger, w.Path, w.RawValue ?? string.Empty, w.Message);
            }
        }

        _warnings = now;
    }

    /// <summary>Completes when the first discovery has; it never faults (discovery reports problems as warnings).</summary>
    public Task FirstDiscovery => _initial;

    /// <summary>Waits for the first discovery (it never throws: discovery reports problems as warnings).</summary>
    private void EnsureDiscovered()
    {
        if (!_initial.IsCompleted)
        {
            _initial.GetAwaiter().GetResult();
        }
    }

    /// <summary>The machine as last discovered.</summary>
    public HostTopology Current
    {
        get
        {
            EnsureDiscovered();
            lock (_gate)
            {
                return _topology;
            }
        }
    }

    /// <summary>The current generation.</summary>
    public ulong Generation
    {
        get
        {
            EnsureDiscovered();
            lock (_gate)
            {
                return _inventory.Generation;
            }
        }
    }

    /// <summary>Raised after a real change, with the new topology.</summary>
    public event Action<HostTopology>? Changed;

    public ServiceDefinition Definition() =>
        ServiceDefinition.CreateBuilder(ServiceName)
            .AddUnary<GetInventoryRequest, HostInventory>("GetInventory", GetInventoryRequest.Parser, (_, _) => Task.FromResult(Snapshot()))
            .AddUnary<GetTopologyRequest, GetTopologyResponse>("GetTopology", GetTopologyRequest.Parser, (_, _) =>
            {
                HostInventory inv = Snapshot();
                return Task.FromResult(new GetTopologyResponse { Generation = inv.Generation, Root = TopologyTree.Build(inv) });
            })
            .AddServerStreaming<WatchInventoryRequest, InventoryChange>("WatchInventory", WatchInventoryRequest.Parser, WatchAsync)
            .Build();

    /// <summary>The current inventory message (callers must not modify it).</summary>
    public HostInventory Snapshot()
    {
        EnsureDiscovered();
        lock (_gate)
        {
            return _inventory;
        }
    }

    /// <summary>
    /// Checks for a change and, when there is one, rediscovers; the generation moves only when the inventory
    /// (free memory and timestamps aside) differs. Returns true when it moved.
    /// </summary>
    public bool Rescan(string reason)
    {
        EnsureDiscovered();
        if (!_discovery.HasChanged())
        {
            return false;
        }

        HostTopology topology = _metrics.TimeDiscovery(_discovery.Discover);
        LogNewWarnings(topology);
        HostInventory inventory = InventoryMapper.ToProto(topology, _options.SysfsRoot, _options.ProcfsRoot);
        HostInventory stable = InventoryMapper.Stable(inventory);
        InventoryChange change;
        lock (_gate)
        {
            if (stable.Equals(_stable))
            {
                return false;
            }

            inventory.Generation = _inventory.Generation + 1;
            inventory.DiscoveredUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            _topology = topology;
            _inventory = inventory;
            _stable = stable;
            change = new InventoryChange { Generation = inventory.Generation, Inventory = inventory, Reason = reason };
            foreach (Channel<InventoryChange> w in _watchers)
            {
                w.Writer.TryWrite(change);
            }
        }

        LogChanged(_logger, change.Generation, reason);
        _events.Publish("inventory.changed", EventSeverity.Info, "inventory", $"hardware inventory changed (generation {change.Generation}, {reason})",
            new Dictionary<string, string> { ["generation"] = change.Generation.ToString(System.Globalization.CultureInfo.InvariantCulture), ["reason"] = reason });
        Changed?.Invoke(topology);
        return true;
    }

    /// <summary>
    /// Ends every WatchInventory stream, each with what it had queued and then OK, and those opened from now on at
    /// once: the daemon calls it when it starts stopping, so that watchers get their trailers before the listeners close.
    /// </summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            foreach (Channel<InventoryChange> w in _watchers)
            {
                w.Writer.TryComplete();
            }
        }
    }

    private async Task WatchAsync(WatchInventoryRequest request, IServerStreamWriter<InventoryChange> writer, ServerCallContext context)
    {
        var channel = Channel.CreateBounded<InventoryChange>(new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        EnsureDiscovered();
        lock (_gate)
        {
            if (request.SendCurrent)
            {
                channel.Writer.TryWrite(new InventoryChange { Generation = _inventory.Generation, Inventory = _inventory, Reason = "initial" });
            }

            _watchers.Add(channel);
            if (_completed)
            {
                channel.Writer.TryComplete();
            }
        }

        try
        {
            await foreach (InventoryChange change in channel.Reader.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            {
                await writer.WriteAsync(change, context.CancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(channel);
            }
        }
    }

    [LoggerMessage(EventId = EventIds.InventoryDiscovered, Level = LogLevel.Information, Message = "Discovered {PciDevices} PCI functions, {Cpus} CPUs, {Nodes} NUMA nodes ({Warnings} warnings)")]
    private static partial void LogDiscovered(ILogger logger, int pciDevices, int cpus, int nodes, int warnings);

    [LoggerMessage(EventId = EventIds.InventoryWarning, Level = LogLevel.Warning, Message = "Discovery: {Path}: {Message} (value \"{Raw}\")")]
    private static partial void LogWarning(ILogger logger, string path, string raw, string message);

    [LoggerMessage(EventId = EventIds.InventoryChanged, Level = LogLevel.Information, Message = "Inventory changed: generation {Generation} ({Reason})")]
    private static partial void LogChanged(ILogger logger, ulong generation, string reason);
}
