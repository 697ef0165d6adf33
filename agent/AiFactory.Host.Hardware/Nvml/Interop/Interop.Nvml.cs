using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Nvml.Interop;

// Raw NVML entry points, one line each, exactly as nvml.h declares them (pointers stay pointers).
internal static unsafe partial class NativeMethods
{
    /// <summary><c>nvmlInitWithFlags</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlInitWithFlags")]
    internal static partial NvmlReturn InitWithFlags(uint flags);

    /// <summary><c>nvmlShutdown</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlShutdown")]
    internal static partial NvmlReturn Shutdown();

    /// <summary><c>nvmlSystemGetDriverVersion</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlSystemGetDriverVersion")]
    internal static partial NvmlReturn SystemGetDriverVersion(byte* version, uint length);

    /// <summary><c>nvmlSystemGetCudaDriverVersion</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlSystemGetCudaDriverVersion")]
    internal static partial NvmlReturn SystemGetCudaDriverVersion(int* version);

    /// <summary><c>nvmlDeviceGetCount_v2</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetCount_v2")]
    internal static partial NvmlReturn DeviceGetCount(uint* count);

    /// <summary><c>nvmlDeviceGetHandleByIndex_v2</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")]
    internal static partial NvmlReturn DeviceGetHandleByIndex(uint index, nint* device);

    /// <summary><c>nvmlDeviceGetName</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetName")]
    internal static partial NvmlReturn DeviceGetName(nint device, byte* name, uint length);

    /// <summary><c>nvmlDeviceGetUUID</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetUUID")]
    internal static partial NvmlReturn DeviceGetUuid(nint device, byte* uuid, uint length);

    /// <summary><c>nvmlDeviceGetSerial</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetSerial")]
    internal static partial NvmlReturn DeviceGetSerial(nint device, byte* serial, uint length);

    /// <summary><c>nvmlDeviceGetPciInfo_v3</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetPciInfo_v3")]
    internal static partial NvmlReturn DeviceGetPciInfo(nint device, PciInfo* pci);

    /// <summary><c>nvmlDeviceGetMemoryInfo_v2</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetMemoryInfo_v2")]
    internal static partial NvmlReturn DeviceGetMemoryInfo(nint device, MemoryV2* memory);

    /// <summary><c>nvmlDeviceGetPersistenceMode</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetPersistenceMode")]
    internal static partial NvmlReturn DeviceGetPersistenceMode(nint device, int* mode);

    /// <summary><c>nvmlDeviceGetVirtualizationMode</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetVirtualizationMode")]
    internal static partial NvmlReturn DeviceGetVirtualizationMode(nint device, int* mode);

    /// <summary><c>nvmlDeviceGetNumaNodeId</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetNumaNodeId")]
    internal static partial NvmlReturn DeviceGetNumaNodeId(nint device, uint* node);

    /// <summary><c>nvmlDeviceGetCpuAffinity</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetCpuAffinity")]
    internal static partial NvmlReturn DeviceGetCpuAffinity(nint device, uint cpuSetSize, ulong* cpuSet);

    /// <summary><c>nvmlDeviceGetNvLinkState</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetNvLinkState")]
    internal static partial NvmlReturn DeviceGetNvLinkState(nint device, uint link, int* isActive);

    /// <summary><c>nvmlDeviceGetNvLinkRemotePciInfo_v2</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetNvLinkRemotePciInfo_v2")]
    internal static partial NvmlReturn DeviceGetNvLinkRemotePciInfo(nint device, uint link, PciInfo* pci);

    /// <summary><c>nvmlDeviceGetGpuFabricInfoV</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetGpuFabricInfoV")]
    internal static partial NvmlReturn DeviceGetGpuFabricInfoV(nint device, GpuFabricInfoV3* info);

    /// <summary><c>nvmlDeviceGetTotalEccErrors</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetTotalEccErrors")]
    internal static partial NvmlReturn DeviceGetTotalEccErrors(nint device, int errorType, int counterType, ulong* count);

    /// <summary><c>nvmlDeviceGetRemappedRows</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetRemappedRows")]
    internal static partial NvmlReturn DeviceGetRemappedRows(nint device, uint* corrRows, uint* uncRows, uint* isPending, uint* failureOccurred);

    /// <summary><c>nvmlDeviceGetRetiredPagesPendingStatus</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetRetiredPagesPendingStatus")]
    internal static partial NvmlReturn DeviceGetRetiredPagesPendingStatus(nint device, int* isPending);

    /// <summary><c>nvmlDeviceGetComputeRunningProcesses_v3</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetComputeRunningProcesses_v3")]
    internal static partial NvmlReturn DeviceGetComputeRunningProcesses(nint device, uint* infoCount, ProcessInfo* infos);

    /// <summary><c>nvmlDeviceGetUtilizationRates</c>: <c>nvmlUtilization_t</c> is two <c>unsigned int</c> (gpu, memory).</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetUtilizationRates")]
    internal static partial NvmlReturn DeviceGetUtilizationRates(nint device, uint* utilization);

    /// <summary><c>nvmlDeviceGetEncoderUtilization</c>: percent, and the sampling period it covers in µs.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetEncoderUtilization")]
    internal static partial NvmlReturn DeviceGetEncoderUtilization(nint device, uint* utilization, uint* samplingPeriodUs);

    /// <summary><c>nvmlDeviceGetDecoderUtilization</c>: percent, and the sampling period it covers in µs.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetDecoderUtilization")]
    internal static partial NvmlReturn DeviceGetDecoderUtilization(nint device, uint* utilization, uint* samplingPeriodUs);

    /// <summary><c>nvmlDeviceGetTemperature</c> (sensor <c>NVML_TEMPERATURE_GPU</c> = 0).</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetTemperature")]
    internal static partial NvmlReturn DeviceGetTemperature(nint device, int sensorType, uint* temp);

    /// <summary><c>nvmlDeviceGetPowerUsage</c>: the board's power draw in milliwatts (averaged over a second on Ampere and later).</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetPowerUsage")]
    internal static partial NvmlReturn DeviceGetPowerUsage(nint device, uint* powerMilliwatts);

    /// <summary><c>nvmlDeviceGetClockInfo</c> (<c>nvmlClockType_t</c>: graphics 0, SM 1, memory 2, video 3), MHz.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetClockInfo")]
    internal static partial NvmlReturn DeviceGetClockInfo(nint device, int type, uint* clockMHz);

    /// <summary><c>nvmlDeviceGetFieldValues</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetFieldValues")]
    internal static partial NvmlReturn DeviceGetFieldValues(nint device, int valuesCount, FieldValue* values);

    /// <summary><c>nvmlDeviceGetMigMode</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetMigMode")]
    internal static partial NvmlReturn DeviceGetMigMode(nint device, uint* currentMode, uint* pendingMode);

    /// <summary><c>nvmlDeviceSetMigMode</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceSetMigMode")]
    internal static partial NvmlReturn DeviceSetMigMode(nint device, uint mode, NvmlReturn* activationStatus);

    /// <summary><c>nvmlDeviceGetGpuInstanceProfileInfoV</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetGpuInstanceProfileInfoV")]
    internal static partial NvmlReturn DeviceGetGpuInstanceProfileInfoV(nint device, uint profile, GpuInstanceProfileInfoV3* info);

    /// <summary><c>nvmlDeviceGetGpuInstanceProfileInfoV</c> with the v2 struct (drivers before R545).</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetGpuInstanceProfileInfoV")]
    internal static partial NvmlReturn DeviceGetGpuInstanceProfileInfoV(nint device, uint profile, GpuInstanceProfileInfoV2* info);

    /// <summary><c>nvmlDeviceGetGpuInstancePossiblePlacements_v2</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetGpuInstancePossiblePlacements_v2")]
    internal static partial NvmlReturn DeviceGetGpuInstancePossiblePlacements(nint device, uint profileId, Placement* placements, uint* count);

    /// <summary><c>nvmlDeviceGetGpuInstanceRemainingCapacity</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetGpuInstanceRemainingCapacity")]
    internal static partial NvmlReturn DeviceGetGpuInstanceRemainingCapacity(nint device, uint profileId, uint* count);

    /// <summary><c>nvmlDeviceCreateGpuInstanceWithPlacement</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceCreateGpuInstanceWithPlacement")]
    internal static partial NvmlReturn DeviceCreateGpuInstanceWithPlacement(nint device, uint profileId, Placement* placement, nint* gpuInstance);

    /// <summary><c>nvmlGpuInstanceDestroy</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlGpuInstanceDestroy")]
    internal static partial NvmlReturn GpuInstanceDestroy(nint gpuInstance);

    /// <summary><c>nvmlDeviceGetGpuInstances</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceGetGpuInstances")]
    internal static partial NvmlReturn DeviceGetGpuInstances(nint device, uint profileId, nint* gpuInstances, uint* count);

    /// <summary><c>nvmlGpuInstanceGetInfo</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlGpuInstanceGetInfo")]
    internal static partial NvmlReturn GpuInstanceGetInfo(nint gpuInstance, GpuInstanceInfo* info);

    /// <summary><c>nvmlGpuInstanceGetComputeInstanceProfileInfoV</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlGpuInstanceGetComputeInstanceProfileInfoV")]
    internal static partial NvmlReturn GpuInstanceGetComputeInstanceProfileInfoV(nint gpuInstance, uint profile, uint engProfile, ComputeInstanceProfileInfoV2* info);

    /// <summary><c>nvmlGpuInstanceCreateComputeInstance</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlGpuInstanceCreateComputeInstance")]
    internal static partial NvmlReturn GpuInstanceCreateComputeInstance(nint gpuInstance, uint profileId, nint* computeInstance);

    /// <summary><c>nvmlGpuInstanceCreateComputeInstanceWithPlacement</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlGpuInstanceCreateComputeInstanceWithPlacement")]
    internal static partial NvmlReturn GpuInstanceCreateComputeInstanceWithPlacement(nint gpuInstance, uint profileId, Placement* placement, nint* computeInstance);

    /// <summary><c>nvmlComputeInstanceDestroy</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlComputeInstanceDestroy")]
    internal static partial NvmlReturn ComputeInstanceDestroy(nint computeInstance);

    /// <summary><c>nvmlGpuInstanceGetComputeInstances</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlGpuInstanceGetComputeInstances")]
    internal static partial NvmlReturn GpuInstanceGetComputeInstances(nint gpuInstance, uint profileId, nint* computeInstances, uint* count);

    /// <summary><c>nvmlComputeInstanceGetInfo_v2</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlComputeInstanceGetInfo_v2")]
    internal static partial NvmlReturn ComputeInstanceGetInfo(nint computeInstance, ComputeInstanceInfo* info);

    /// <summary><c>nvmlEventSetCreate</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlEventSetCreate")]
    internal static partial NvmlReturn EventSetCreate(nint* set);

    /// <summary><c>nvmlDeviceRegisterEvents</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlDeviceRegisterEvents")]
    internal static partial NvmlReturn DeviceRegisterEvents(nint device, ulong eventTypes, nint set);

    /// <summary><c>nvmlEventSetWait_v2</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlEventSetWait_v2")]
    internal static partial NvmlReturn EventSetWait(nint set, EventData* data, uint timeoutms);

    /// <summary><c>nvmlEventSetFree</c>.</summary>
    [LibraryImport(Libraries.Nvml, EntryPoint = "nvmlEventSetFree")]
    internal static partial NvmlReturn EventSetFree(nint set);
}
