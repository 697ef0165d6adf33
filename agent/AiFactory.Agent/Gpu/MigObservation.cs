using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Gpu;

/// <summary>What NVML reports about MIG now, for the lease reconciler: each GPU it sees, or why it could not be read.</summary>
/// <param name="Gpus">Each GPU NVML sees, by address.</param>
/// <param name="Unavailable">Why NVML could not be read at all (absent, failing); null when it was.</param>
internal sealed record MigObservation(IReadOnlyDictionary<PciAddress, MigGpuReading> Gpus, string? Unavailable)
{
    /// <summary>Nothing could be read, for <paramref name="why"/>.</summary>
    public static MigObservation Unreadable(string why) => new(new Dictionary<PciAddress, MigGpuReading>(), why);

    /// <summary>The GPUs NVML counts but gives no handle or bus id for ("GPU 3: nvmlDeviceGetHandleByIndex_v2 failed: ..."); a GPU missing from <see cref="Gpus"/> may be one of them.</summary>
    public IReadOnlyList<string> Unaddressed { get; init; } = [];
}

/// <summary>One GPU's MIG state as NVML reports it.</summary>
/// <param name="MigEnabled">MIG mode now (not pending).</param>
/// <param name="Instances">Its GPU instances; empty when MIG is off.</param>
/// <param name="Error">Why NVML failed on this GPU; null when it did not.</param>
internal sealed record MigGpuReading(bool MigEnabled, IReadOnlyList<MigInstance> Instances, string? Error);
