namespace AiFactory.Host.Hardware.Nvml;

/// <summary>nvmlPciInfo_t as values: the bus id in NVML's form and the vendor/device ids.</summary>
public sealed record NvmlPciInfo(string BusId, uint PciDeviceId, uint PciSubSystemId);

/// <summary>nvmlMemory_v2_t in bytes.</summary>
public readonly record struct NvmlMemory(ulong Total, ulong Reserved, ulong Free, ulong Used);

/// <summary>nvmlUtilization_t: percent of time the GPU ran a kernel, and the memory controller was busy.</summary>
public readonly record struct NvmlUtilization(uint Gpu, uint Memory);

/// <summary>nvmlClockType_t.</summary>
public enum NvmlClockType
{
    /// <summary>NVML_CLOCK_GRAPHICS.</summary>
    Graphics = 0,

    /// <summary>NVML_CLOCK_SM.</summary>
    Sm = 1,

    /// <summary>NVML_CLOCK_MEM.</summary>
    Memory = 2,

    /// <summary>NVML_CLOCK_VIDEO.</summary>
    Video = 3,
}

/// <summary>nvmlDeviceGetRemappedRows.</summary>
public readonly record struct NvmlRemappedRows(uint Correctable, uint Uncorrectable, bool Pending, bool Failure);

/// <summary>nvmlGpuFabricInfo_v3_t: the NVSwitch fabric registration of a GPU.</summary>
public sealed record NvmlFabricInfo(string ClusterUuid, uint CliqueId, uint State, NvmlReturn Status, uint HealthMask);

/// <summary>One process using a GPU (nvmlProcessInfo_t).</summary>
public readonly record struct NvmlProcess(uint Pid, ulong UsedGpuMemory, uint? GpuInstanceId, uint? ComputeInstanceId);

/// <summary>nvmlGpuInstanceProfileInfo_v3_t: what a GPU instance profile offers.</summary>
public sealed record NvmlGpuInstanceProfile(uint Id, string Name, uint SliceCount, uint InstanceCount, ulong MemorySizeMB, uint MultiprocessorCount);

/// <summary>nvmlGpuInstancePlacement_t / nvmlComputeInstancePlacement_t.</summary>
public readonly record struct NvmlPlacement(uint Start, uint Size);

/// <summary>nvmlGpuInstanceInfo_t.</summary>
public readonly record struct NvmlGpuInstanceInfo(uint Id, uint ProfileId, NvmlPlacement Placement);

/// <summary>nvmlComputeInstanceProfileInfo_v2_t.</summary>
public sealed record NvmlComputeInstanceProfile(uint Id, string Name, uint SliceCount, uint InstanceCount);

/// <summary>nvmlComputeInstanceInfo_t.</summary>
public readonly record struct NvmlComputeInstanceInfo(uint Id, uint ProfileId, NvmlPlacement Placement);

/// <summary>nvmlEventData_t: which device, which event type (<see cref="NvmlEventTypes"/>), and its data (the XID).</summary>
public readonly record struct NvmlEvent(NvmlDevice Device, ulong EventType, ulong EventData, uint? GpuInstanceId);

/// <summary>One field of nvmlDeviceGetFieldValues: asked id in, return code and raw 8-byte value out.</summary>
public struct NvmlFieldValue
{
    public uint FieldId;
    public NvmlReturn Return;
    public ulong Value;
}

/// <summary>NVML field ids (NVML_FI_*) the agent reads in one batched call.</summary>
public static class NvmlFieldIds
{
    public const uint EccSingleBitVolatile = 3;
    public const uint EccDoubleBitVolatile = 4;
    public const uint EccSingleBitAggregate = 5;
    public const uint EccDoubleBitAggregate = 6;
    public const uint RetiredPending = 31;
    public const uint MemoryTemperature = 82;
    public const uint TotalEnergyConsumption = 83;
    public const uint PcieReplayCounter = 94;
    public const uint RemappedCorrectable = 142;
    public const uint RemappedUncorrectable = 143;
    public const uint RemappedPending = 144;
    public const uint RemappedFailure = 145;
    public const uint PowerInstant = 186;
}

/// <summary>nvmlEventType* bits.</summary>
public static class NvmlEventTypes
{
    public const ulong SingleBitEccError = 0x1;
    public const ulong DoubleBitEccError = 0x2;
    public const ulong XidCriticalError = 0x8;
    public const ulong SingleBitEccErrorStorm = 0x200;
    public const ulong DramRetirementEvent = 0x400;
    public const ulong DramRetirementFailure = 0x800;
    public const ulong GpuUnavailableError = 0x4000;
    public const ulong GpuRecoveryAction = 0x8000;

    /// <summary>The set the health watcher registers.</summary>
    public const ulong Health = DoubleBitEccError | XidCriticalError | SingleBitEccErrorStorm | DramRetirementEvent
        | DramRetirementFailure | GpuUnavailableError | GpuRecoveryAction;
}
