using System.Collections.Concurrent;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// Each GPU's health as the event watcher last saw it, by UUID (and its bus address, which leases go by), and apart
/// from it the GPUs found ambiguous (a UUID or bus id NVML reports for two GPUs, <see cref="GpuIdentities"/>). Health
/// events come and go; ambiguity sticks: a GPU marked ambiguous reads unhealthy whatever its events say (a recovery
/// event included) until a read of NVML's GPUs no longer sees the duplicate (<see cref="GpuAmbiguity"/>).
/// Only the watcher and the ambiguity check write; everyone reads.
/// </summary>
internal sealed class GpuHealthRegistry
{
    private readonly ConcurrentDictionary<string, (GpuHealth Health, string Reason)> _byUuid = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<PciAddress, GpuHealth> _byAddress = new();
    private readonly ConcurrentDictionary<uint, (GpuIdentities.Identity Gpu, string Reason)> _ambiguous = new();

    /// <summary>The GPU's health: unhealthy with why while it is ambiguous, else what its events last said.</summary>
    public (GpuHealth Health, string Reason) Get(string uuid)
    {
        foreach ((GpuIdentities.Identity gpu, string reason) in _ambiguous.Values)
        {
            if (string.Equals(gpu.Uuid, uuid, StringComparison.OrdinalIgnoreCase))
            {
                return (GpuHealth.Unhealthy, reason);
            }
        }

        return _byUuid.TryGetValue(uuid, out var entry) ? entry : (GpuHealth.Healthy, string.Empty);
    }

    /// <summary>
    /// Records a new state from a health event (or the start-up read); returns the previous one (ambiguity included).
    /// <paramref name="busId"/> (a sysfs PCI address) lets leases avoid the GPU. Ambiguity is not changed here.
    /// </summary>
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

    /// <summary>Marks <paramref name="gpu"/> ambiguous (by its NVML index); false when it already was, for the same reason.</summary>
    public bool MarkAmbiguous(GpuIdentities.Identity gpu, string reason)
    {
        var entry = (gpu, reason);
        bool changed = !_ambiguous.TryGetValue(gpu.Index, out var was) || was != entry;
        _ambiguous[gpu.Index] = entry;
        return changed;
    }

    /// <summary>Ends the ambiguity of NVML's GPU <paramref name="index"/>; returns what it was, or null when it was not ambiguous.</summary>
    public (GpuIdentities.Identity Gpu, string Reason)? ClearAmbiguous(uint index) =>
        _ambiguous.TryRemove(index, out var was) ? was : null;

    /// <summary>The GPUs ambiguous now, by NVML index.</summary>
    public IReadOnlyDictionary<uint, (GpuIdentities.Identity Gpu, string Reason)> Ambiguous() =>
        new Dictionary<uint, (GpuIdentities.Identity, string)>(_ambiguous);

    /// <summary>The bus addresses of the GPUs marked unhealthy now, the ambiguous ones included (leases avoid them).</summary>
    public IReadOnlySet<PciAddress> Unhealthy()
    {
        var result = _byAddress.Where(kv => kv.Value == GpuHealth.Unhealthy).Select(kv => kv.Key).ToHashSet();
        foreach ((GpuIdentities.Identity gpu, _) in _ambiguous.Values)
        {
            result.Add(gpu.Address);
        }

        return result;
    }
}
