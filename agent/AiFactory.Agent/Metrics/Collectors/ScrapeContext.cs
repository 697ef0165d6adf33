using AiFactory.Agent.Metrics.Sources;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>
/// The sources of one scrape, each read at most once and shared by the collectors that need it (the node snapshot
/// feeds the pci, numa and lease collectors). A source that threw throws again for every collector that asks.
/// </summary>
internal sealed class ScrapeContext
{
    private readonly Once<NodeSnapshot>? _node;
    private readonly Once<IReadOnlyList<LeaseSnapshot>>? _leases;
    private readonly Once<GpuTelemetrySnapshot>? _gpus;

    public ScrapeContext(INodeSnapshotSource? node, ILeaseSource? leases, IGpuTelemetrySource? gpus)
    {
        _node = node is null ? null : new Once<NodeSnapshot>(node.Read);
        _leases = leases is null ? null : new Once<IReadOnlyList<LeaseSnapshot>>(leases.Read);
        _gpus = gpus is null ? null : new Once<GpuTelemetrySnapshot>(gpus.Read);
    }

    /// <summary>The machine, or null when the daemon has no node source.</summary>
    public NodeSnapshot? Node => _node?.Value;

    /// <summary>The leases; empty when the daemon has no lease source.</summary>
    public IReadOnlyList<LeaseSnapshot> Leases => _leases?.Value ?? [];

    /// <summary>True when a lease source exists (so "no leases" means none, not unknown).</summary>
    public bool HasLeaseSource => _leases is not null;

    /// <summary>GPU telemetry; empty when the daemon has no GPU source.</summary>
    public GpuTelemetrySnapshot Gpus => _gpus?.Value ?? GpuTelemetrySnapshot.Empty;

    private sealed class Once<T>
        where T : class
    {
        private readonly Func<T> _read;
        private T? _value;
        private Exception? _error;

        public Once(Func<T> read)
        {
            _read = read;
        }

        public T Value
        {
            get
            {
                if (_value is null && _error is null)
                {
                    try
                    {
                        _value = _read();
                    }
                    catch (Exception ex)
                    {
                        _error = ex;
                    }
                }

                return _value ?? throw new InvalidOperationException(_error!.Message, _error);
            }
        }
    }
}
