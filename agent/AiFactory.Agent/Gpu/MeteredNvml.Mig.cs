using AiFactory.Host.Hardware.Nvml;

namespace AiFactory.Agent.Gpu;

/// <summary>MIG mode, GPU instances and compute instances, counted like every other call.</summary>
internal sealed partial class MeteredNvml
{
    public (bool Current, bool Pending)? GetMigMode(NvmlDevice device)
        => Metered(device, static (nvml, a) => nvml.GetMigMode(a));

    public NvmlReturn SetMigMode(NvmlDevice device, bool enabled)
        => Metered((device, enabled), static (nvml, a) => nvml.SetMigMode(a.device, a.enabled));

    public NvmlGpuInstanceProfile? GetGpuInstanceProfile(NvmlDevice device, uint profileIndex)
        => Metered((device, profileIndex), static (nvml, a) => nvml.GetGpuInstanceProfile(a.device, a.profileIndex));

    public IReadOnlyList<NvmlPlacement> GetPossiblePlacements(NvmlDevice device, uint profileId)
        => Metered((device, profileId), static (nvml, a) => nvml.GetPossiblePlacements(a.device, a.profileId));

    public uint GetRemainingCapacity(NvmlDevice device, uint profileId)
        => Metered((device, profileId), static (nvml, a) => nvml.GetRemainingCapacity(a.device, a.profileId));

    public NvmlGpuInstance CreateGpuInstance(NvmlDevice device, uint profileId, NvmlPlacement placement)
        => Metered((device, profileId, placement), static (nvml, a) => nvml.CreateGpuInstance(a.device, a.profileId, a.placement));

    public void DestroyGpuInstance(NvmlGpuInstance instance)
        => Metered(instance, static (nvml, a) => nvml.DestroyGpuInstance(a));

    public IReadOnlyList<NvmlGpuInstance> GetGpuInstances(NvmlDevice device, uint profileId)
        => Metered((device, profileId), static (nvml, a) => nvml.GetGpuInstances(a.device, a.profileId));

    public NvmlGpuInstanceInfo GetGpuInstanceInfo(NvmlGpuInstance instance)
        => Metered(instance, static (nvml, a) => nvml.GetGpuInstanceInfo(a));

    public NvmlComputeInstanceProfile? GetComputeInstanceProfile(NvmlGpuInstance instance, uint profileIndex)
        => Metered((instance, profileIndex), static (nvml, a) => nvml.GetComputeInstanceProfile(a.instance, a.profileIndex));

    public NvmlComputeInstance CreateComputeInstance(NvmlGpuInstance instance, uint profileId)
        => Metered((instance, profileId), static (nvml, a) => nvml.CreateComputeInstance(a.instance, a.profileId));

    public NvmlComputeInstance CreateComputeInstance(NvmlGpuInstance instance, uint profileId, NvmlPlacement placement)
        => Metered((instance, profileId, placement), static (nvml, a) => nvml.CreateComputeInstance(a.instance, a.profileId, a.placement));

    public void DestroyComputeInstance(NvmlComputeInstance instance)
        => Metered(instance, static (nvml, a) => nvml.DestroyComputeInstance(a));

    public IReadOnlyList<NvmlComputeInstance> GetComputeInstances(NvmlGpuInstance instance, uint profileId)
        => Metered((instance, profileId), static (nvml, a) => nvml.GetComputeInstances(a.instance, a.profileId));

    public NvmlComputeInstanceInfo GetComputeInstanceInfo(NvmlComputeInstance instance)
        => Metered(instance, static (nvml, a) => nvml.GetComputeInstanceInfo(a));
}
