using AiFactory.Grpc;

namespace AiFactory.Agent.Metrics;

/// <summary>
/// The agent's own measurements, recorded by the parts that do the work (the gRPC server's CallCompleted hook,
/// profile apply, drift checks, discovery, the NVML binding) and read by <see cref="Collectors.AgentCollector"/>.
/// Thread-safe; one instance per daemon.
/// </summary>
internal sealed class AgentMetrics
{
    private readonly object _gate = new();
    private readonly SortedDictionary<(string Method, StatusCode Code), Histogram> _rpc = [];
    private readonly SortedDictionary<string, Histogram> _profileApply = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, Histogram> _discovery = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, long> _drift = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, long> _profileOutcomes = new(StringComparer.Ordinal);
    private readonly SortedDictionary<(string Function, string Code), long> _nvmlErrors = [];
    private readonly Dictionary<string, ulong> _lastXid = new(StringComparer.Ordinal);

    /// <summary>A finished gRPC call: the shape of <c>GrpcServerOptions.CallCompleted</c>.</summary>
    public void RecordRpc(string method, StatusCode code, TimeSpan duration) =>
        GetOrAdd(_rpc, (method, code), Histogram.RpcBounds).Observe(duration.TotalSeconds);

    /// <summary>A profile application finished with <paramref name="outcome"/> (applied, unchanged, failed, ...).</summary>
    public void RecordProfileApply(string outcome, TimeSpan duration) =>
        GetOrAdd(_profileApply, outcome, Histogram.OperationBounds).Observe(duration.TotalSeconds);

    /// <summary>A profile application ended with <paramref name="outcome"/> (applied, unchanged, failed, refused).</summary>
    public void RecordProfileOutcome(string outcome)
    {
        lock (_gate)
        {
            _profileOutcomes[outcome] = _profileOutcomes.GetValueOrDefault(outcome) + 1;
        }
    }

    /// <summary>A discovery run finished with <paramref name="outcome"/> (ok, failed).</summary>
    public void RecordDiscovery(string outcome, TimeSpan duration) =>
        GetOrAdd(_discovery, outcome, Histogram.OperationBounds).Observe(duration.TotalSeconds);

    /// <summary>Runs one discovery and records its duration: outcome "ok", or "failed" when it throws (rethrown).</summary>
    public T TimeDiscovery<T>(Func<T> discover)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            T result = discover();
            RecordDiscovery("ok", System.Diagnostics.Stopwatch.GetElapsedTime(started));
            return result;
        }
        catch
        {
            RecordDiscovery("failed", System.Diagnostics.Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    /// <summary>The node was found to differ from its profile in <paramref name="kind"/> (hugepages, mig, driver, ...).</summary>
    public void RecordDrift(string kind)
    {
        lock (_gate)
        {
            _drift[kind] = _drift.GetValueOrDefault(kind) + 1;
        }
    }

    /// <summary>An NVML call returned an error code.</summary>
    public void RecordNvmlError(string function, string code)
    {
        lock (_gate)
        {
            _nvmlErrors[(function, code)] = _nvmlErrors.GetValueOrDefault((function, code)) + 1;
        }
    }

    /// <summary>The GPU <paramref name="uuid"/> reported XID <paramref name="xid"/> (an NVML XID critical error event).</summary>
    public void RecordXid(string uuid, ulong xid)
    {
        lock (_gate)
        {
            _lastXid[uuid] = xid;
        }
    }

    /// <summary>The last XID the GPU reported since the agent started; 0 for none (dcgm-exporter's DCGM_FI_DEV_XID_ERRORS).</summary>
    public double LastXid(string uuid)
    {
        lock (_gate)
        {
            return _lastXid.GetValueOrDefault(uuid);
        }
    }

    internal List<KeyValuePair<(string Method, StatusCode Code), Histogram>> Rpc() => Copy(_rpc);

    internal List<KeyValuePair<string, Histogram>> ProfileApply() => Copy(_profileApply);

    internal List<KeyValuePair<string, Histogram>> Discovery() => Copy(_discovery);

    internal List<KeyValuePair<string, long>> Drift() => Copy(_drift);

    internal List<KeyValuePair<string, long>> ProfileOutcomes() => Copy(_profileOutcomes);

    internal List<KeyValuePair<(string Function, string Code), long>> NvmlErrors() => Copy(_nvmlErrors);

    private Histogram GetOrAdd<TKey>(SortedDictionary<TKey, Histogram> map, TKey key, double[] bounds)
        where TKey : notnull
    {
        lock (_gate)
        {
            if (!map.TryGetValue(key, out Histogram? h))
            {
                h = new Histogram(bounds);
                map[key] = h;
            }

            return h;
        }
    }

    private List<KeyValuePair<TKey, TValue>> Copy<TKey, TValue>(SortedDictionary<TKey, TValue> map)
        where TKey : notnull
    {
        lock (_gate)
        {
            return [.. map];
        }
    }
}
