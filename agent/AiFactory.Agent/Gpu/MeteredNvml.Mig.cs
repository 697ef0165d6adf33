using AiFactory.Host.Hardware.Nvml;

namespace AiFactory.Agent.Gpu;

/// <summary>MIG mode, GPU instances and compute instances, counted like every other call.</summary>
internal sealed partial class MeteredNvml
{
    public (bool Current, bool Pending)? GetMigMode(NvmlDevice device)
    {
        try
        {
            return _inner.GetMigMode(device);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlReturn SetMigMode(NvmlDevice device, bool enabled)
    {
        try
        {
            return _inner.SetMigMode(device, enabled);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlGpuInstanceProfile? GetGpuInstanceProfile(NvmlDevice device, uint profileId)
    {
        try
        {
            return _inner.GetGpuInstanceProfile(device, profileId);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public IReadOnlyList<NvmlPlacement> GetPossiblePlacements(NvmlDevice device, uint profileId)
    {
        try
        {
            return _inner.GetPossiblePlacements(device, profileId);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public uint GetRemainingCapacity(NvmlDevice device, uint profileId)
    {
        try
        {
            return _inner.GetRemainingCapacity(device, profileId);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlGpuInstance CreateGpuInstance(NvmlDevice device, uint profileId, NvmlPlacement placement)
    {
        try
        {
            return _inner.CreateGpuInstance(device, profileId, placement);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public void DestroyGpuInstance(NvmlGpuInstance instance)
    {
        try
        {
            _inner.DestroyGpuInstance(instance);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public IReadOnlyList<NvmlGpuInstance> GetGpuInstances(NvmlDevice device, uint profileId)
    {
        try
        {
            return _inner.GetGpuInstances(device, profileId);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlGpuInstanceInfo GetGpuInstanceInfo(NvmlGpuInstance instance)
    {
        try
        {
            return _inner.GetGpuInstanceInfo(instance);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlComputeInstanceProfile? GetComputeInstanceProfile(NvmlGpuInstance instance, uint profileId)
    {
        try
        {
            return _inner.GetComputeInstanceProfile(instance, profileId);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlComputeInstance CreateComputeInstance(NvmlGpuInstance instance, uint profileId)
    {
        try
        {
            return _inner.CreateComputeInstance(instance, profileId);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public void DestroyComputeInstance(NvmlComputeInstance instance)
    {
        try
        {
            _inner.DestroyComputeInstance(instance);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public IReadOnlyList<NvmlComputeInstance> GetComputeInstances(NvmlGpuInstance instance, uint profileId)
    {
        try
        {
            return _inner.GetComputeInstances(instance, profileId);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }

    public NvmlComputeInstanceInfo GetComputeInstanceInfo(NvmlComputeInstance instance)
    {
        try
        {
            return _inner.GetComputeInstanceInfo(instance);
        }
        catch (NvmlException ex) when (Count(ex))
        {
            throw;
        }
    }
}
