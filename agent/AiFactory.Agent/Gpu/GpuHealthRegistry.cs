using System.Collections.Concurrent;
using AiFactory.Host.Model.Gpu;

namespace AiFactory.Agent.Gpu;

/// <summary>Each GPU's health as the event watcher last saw it, by UUID. Only the watcher writes; everyone reads.</summary>
internal sealed class GpuHealthRegistry
{
    private readonly ConcurrentDictionary<string, (GpuHealth Health, string Reason)> _byUuid = new(StringComparer.Ordinal);

    public (GpuHealth Health, string Reason) Get(string uuid) =>
        _byUuid.TryGetValue(uuid, out var entry) ? entry : (GpuHealth.Healthy, string.Empty);

    /// <summary>Records a new state; returns the previous one.</summary>
    public (GpuHealth Health, string Reason) Set(string uuid, GpuHealth health, string reason)
    {
        var previous = Get(uuid);
        _byUuid[uuid] = (health, reason);
        return previous;
    }
}
