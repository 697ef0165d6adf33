namespace AiFactory.Host.Hardware.Nvml;

/// <summary>
/// The part of NVML the agent calls, and nothing more. Every method throws <see cref="NvmlException"/> on a code other
/// than NVML_SUCCESS, except those returning null for NVML_ERROR_NOT_SUPPORTED where "not there" is an answer.
/// </summary>
public interface INvml
{
    string DriverVersion { get; }

    int CudaDriverVersion { get; }

    uint DeviceCount { get; }

    NvmlDevice GetDevice(uint index);

    string GetName(NvmlDevice device);

    string GetUuid(NvmlDevice device);

    string GetSerial(NvmlDevice device);

    NvmlPciInfo GetPciInfo(NvmlDevice device);

    NvmlMemory GetMemory(NvmlDevice device);

    bool GetPersistenceMode(NvmlDevice device);

    int GetVirtualizationMode(NvmlDevice device);

    /// <summary>The NUMA node, or null when NVML does not know it.</summary>
    int? GetNumaNode(NvmlDevice device);

    /// <summary>The ideal CPU affinity as CPU ids.</summary>
    IReadOnlyList<int> GetCpuAffinity(NvmlDevice device);

    /// <summary>Link states (active or not) and remote bus ids; empty without NVLink.</summary>
    IReadOnlyList<(bool Active, string? RemoteBusId)> GetNvLinks(NvmlDevice device);

    NvmlFabricInfo? GetFabricInfo(NvmlDevice device);

    ulong GetTotalEccErrors(NvmlDevice device, bool uncorrected, bool aggregate);

    NvmlRemappedRows? GetRemappedRows(NvmlDevice device);

    bool? GetRetiredPagesPending(NvmlDevice device);

    IReadOnlyList<NvmlProcess> GetComputeProcesses(NvmlDevice device);

    /// <summary>GPU and memory-copy utilisation in percent over the last sample period (nvmlDeviceGetUtilizationRates).</summary>
    NvmlUtilization GetUtilization(NvmlDevice device);

    /// <summary>Video encoder utilisation in percent over the last sample period (nvmlDeviceGetEncoderUtilization).</summary>
    uint GetEncoderUtilization(NvmlDevice device);

    /// <summary>Video decoder utilisation in percent over the last sample period (nvmlDeviceGetDecoderUtilization).</summary>
    uint GetDecoderUtilization(NvmlDevice device);

    /// <summary>The GPU core temperature in °C (nvmlDeviceGetTemperature, NVML_TEMPERATURE_GPU).</summary>
    uint GetGpuTemperature(NvmlDevice device);

    /// <summary>
    /// The board's power draw in milliwatts (nvmlDeviceGetPowerUsage), the reading DCGM reports as DCGM_FI_DEV_POWER_USAGE.
    /// The default is NOT_SUPPORTED, for fakes that do not model it (callers then fall back to the instant-power field).
    /// </summary>
    uint GetPowerUsage(NvmlDevice device) => throw new NvmlException("nvmlDeviceGetPowerUsage", NvmlReturn.NotSupported);

    /// <summary>A current clock in MHz (nvmlDeviceGetClockInfo).</summary>
    uint GetClock(NvmlDevice device, NvmlClockType type);

    /// <summary>Fills many values in one call (nvmlDeviceGetFieldValues).</summary>
    void GetFieldValues(NvmlDevice device, Span<NvmlFieldValue> values);

    /// <summary>Current and pending MIG mode; null when the GPU has no MIG.</summary>
    (bool Current, bool Pending)? GetMigMode(NvmlDevice device);

    /// <summary>Asks for a MIG mode; returns the activation status (Success, ResetRequired, InUse).</summary>
    NvmlReturn SetMigMode(NvmlDevice device, bool enabled);

    /// <summary>
    /// A GPU instance profile by its index (NVML_GPU_INSTANCE_PROFILE_*), or null where the GPU has none at that index.
    /// The profile's <see cref="NvmlGpuInstanceProfile.Id"/> is what every other MIG call takes; the two differ on real
    /// drivers (H100: 1g.10gb is index 0, id 19).
    /// </summary>
    NvmlGpuInstanceProfile? GetGpuInstanceProfile(NvmlDevice device, uint profileIndex);

    IReadOnlyList<NvmlPlacement> GetPossiblePlacements(NvmlDevice device, uint profileId);

    uint GetRemainingCapacity(NvmlDevice device, uint profileId);

    NvmlGpuInstance CreateGpuInstance(NvmlDevice device, uint profileId, NvmlPlacement placement);

    void DestroyGpuInstance(NvmlGpuInstance instance);

    IReadOnlyList<NvmlGpuInstance> GetGpuInstances(NvmlDevice device, uint profileId);

    NvmlGpuInstanceInfo GetGpuInstanceInfo(NvmlGpuInstance instance);

    /// <summary>A compute instance profile by its index (NVML_COMPUTE_INSTANCE_PROFILE_*); create by its Id.</summary>
    NvmlComputeInstanceProfile? GetComputeInstanceProfile(NvmlGpuInstance instance, uint profileIndex);

    NvmlComputeInstance CreateComputeInstance(NvmlGpuInstance instance, uint profileId);

    /// <summary>
    /// Creates a compute instance at exactly <paramref name="placement"/> (its compute slices inside the GPU instance),
    /// as a rollback needs to restore a layout of several compute instances.
    /// </summary>
    NvmlComputeInstance CreateComputeInstance(NvmlGpuInstance instance, uint profileId, NvmlPlacement placement);

    void DestroyComputeInstance(NvmlComputeInstance instance);

    IReadOnlyList<NvmlComputeInstance> GetComputeInstances(NvmlGpuInstance instance, uint profileId);

    NvmlComputeInstanceInfo GetComputeInstanceInfo(NvmlComputeInstance instance);

    NvmlEventSetHandle CreateEventSet();

    void RegisterEvents(NvmlDevice device, ulong eventTypes, NvmlEventSetHandle set);

    /// <summary>Waits for one event; false on timeout.</summary>
    bool WaitForEvent(NvmlEventSetHandle set, uint timeoutMs, out NvmlEvent e);
}
