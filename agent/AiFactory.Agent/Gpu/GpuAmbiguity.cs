using AiFactory.Agent.Events;
using AiFactory.Contracts.Agent.V1;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// Keeps the ambiguous GPUs in <see cref="GpuHealthRegistry"/> up to date after start: every read of NVML's GPU
/// identities (the GPU list, the MIG capacity a lease plans on, resolving a GPU for a MIG change) is checked for a
/// UUID or bus id two GPUs report (<see cref="GpuIdentities.Duplicates"/>). A GPU newly seen ambiguous is marked (a
/// <c>gpu.ambiguous</c> event and warning naming both GPUs and the value, as at start); one marked before is cleared
/// only by a read that saw every GPU NVML counts and no longer sees its duplicate (a <c>gpu.ambiguity-cleared</c>
/// event): a read that missed a GPU (lost, failing) cannot tell that the duplicate is gone. Health events never
/// clear it. The start-up read marks through <see cref="GpuHealthWatcher.ReadAtStart"/>.
/// </summary>
internal sealed partial class GpuAmbiguity(GpuHealthRegistry registry, EventBus bus, ILogger<GpuAmbiguity> logger)
{
    private readonly Lock _gate = new();

    /// <summary>
    /// Marks and clears after one read of NVML's GPUs: <paramref name="seen"/> the identities read,
    /// <paramref name="complete"/> true when that was every GPU NVML counts.
    /// </summary>
    public void Review(IReadOnlyList<GpuIdentities.Identity> seen, bool complete)
    {
        IReadOnlyDictionary<uint, string> duplicates = GpuIdentities.Duplicates(seen);
        lock (_gate)
        {
            foreach ((uint index, string why) in duplicates.OrderBy(d => d.Key))
            {
                GpuIdentities.Identity gpu = seen.First(g => g.Index == index);
                string reason = why + "; neither is partitioned or leased";
                if (registry.MarkAmbiguous(gpu, reason))
                {
                    string message = $"GPU {gpu.Address} is ambiguous: {reason}; leases avoid it";
                    bus.Publish("gpu.ambiguous", EventSeverity.Error, gpu.Address.ToString(), message, Attributes(gpu, "unhealthy"));
                    LogAmbiguous(logger, gpu.Address.ToString(), reason);
                }
            }

            if (!complete)
            {
                return;
            }

            foreach ((uint index, (GpuIdentities.Identity was, string _)) in registry.Ambiguous().OrderBy(a => a.Key))
            {
                if (duplicates.ContainsKey(index) || registry.ClearAmbiguous(index) is null)
                {
                    continue;
                }

                GpuIdentities.Identity gpu = seen.FirstOrDefault(g => g.Index == index, was);
                string health = registry.Get(gpu.Uuid).Health.ToString().ToLowerInvariant();
                string message = $"GPU {gpu.Address} is no longer ambiguous: NVML reports UUID {gpu.Uuid} and bus id {gpu.Address} for it alone (was {was.Uuid}, {was.Address}); its health is {health}";
                bus.Publish("gpu.ambiguity-cleared", EventSeverity.Info, gpu.Address.ToString(), message, Attributes(gpu, health));
                LogAmbiguityCleared(logger, gpu.Address.ToString(), message);
            }
        }
    }

    private static Dictionary<string, string> Attributes(GpuIdentities.Identity gpu, string health) => new()
    {
        ["bus_id"] = gpu.Address.ToString(),
        ["uuid"] = gpu.Uuid,
        ["health"] = health,
        ["at_start"] = "false",
    };

    [LoggerMessage(EventId = EventIds.GpuAmbiguous, Level = LogLevel.Warning, Message = "GPU {BusId} is ambiguous: {Reason}; leases avoid it")]
    private static partial void LogAmbiguous(ILogger logger, string busId, string reason);

    [LoggerMessage(EventId = EventIds.GpuAmbiguityCleared, Level = LogLevel.Information, Message = "GPU {BusId}: {Message}")]
    private static partial void LogAmbiguityCleared(ILogger logger, string busId, string message);
}
