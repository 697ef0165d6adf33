using System.Collections.Concurrent;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// Each GPU's health as the event watcher last saw it, by UUID (and its bus address, which leases go by). Only the
/// watcher writes; everyone reads.
/// </summary>
internal sealed class GpuHealthRegistry
{
    private readonly ConcurrentDictionary<string, (GpuHealth Health, string Reason)> _byUuid = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<PciAddress, GpuHealth> _byAddress = new();

    public (GpuHealth Health, string Reason) Get(string uuid) =>
        _byUuid.TryGetValue(uuid, out var entry) ? entry : (GpuHealth.Healthy, string.Empty);

    /// <summary>Records a new state; returns the previous one. <paramref name="busId"/> (a sysfs PCI address) lets leases avoid the GPU.</summary>
    public (GpuHealth Health, string Reason) Set(string uuid, GpuHealth health, string reason, string? busId = null)
    {
        var previous = Get(uuid);
        _byUuid[uuid] = (health, reason);
        if (busId is not null && PciAddress.TryParse(busId, out PciAddress address))
        {
            _byAddress[address] = health;
        }

        return previous;
    }

    /// <summary>The bus addresses of the GPUs marked unhealthy now (leases avoid them).</summary>
    public IReadOnlySet<PciAddress> Unhealthy() =>
        _byAddress.Where(kv => kv.Value == GpuHealth.Unhealthy).Select(kv => kv.Key).ToHashSet();
}
