using System.Runtime.InteropServices;
using static AiFactory.Host.Hardware.Nvml.Interop.NativeMethods;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// Each struct the agent hands to libnvidia-ml has the size and field offsets a C compiler gives nvml.h's (NVIDIA
/// go-nvml pkg/nvml/nvml.h, x86_64 and aarch64): the figures below are the header's, by its field names, as
/// offsetof/sizeof print them. A field out of place here is memory the driver writes where the agent does not read.
/// </summary>
public sealed class NvmlStructLayoutTests
{
    private static readonly Dictionary<string, (string Name, int Size, Func<string, int> OffsetOf)> Ours = new()
    {
        ["nvmlPciInfo_t"] = Of<PciInfo>(),
        ["nvmlMemory_v2_t"] = Of<MemoryV2>(),
        ["nvmlProcessInfo_t"] = Of<ProcessInfo>(),
        ["nvmlGpuInstancePlacement_t"] = Of<Placement>(),
        ["nvmlGpuInstanceProfileInfo_v2_t"] = Of<GpuInstanceProfileInfoV2>(),
        ["nvmlGpuInstanceProfileInfo_v3_t"] = Of<GpuInstanceProfileInfoV3>(),
        ["nvmlGpuInstanceInfo_t"] = Of<GpuInstanceInfo>(),
        ["nvmlComputeInstanceProfileInfo_v2_t"] = Of<ComputeInstanceProfileInfoV2>(),
        ["nvmlComputeInstanceInfo_t"] = Of<ComputeInstanceInfo>(),
        ["nvmlEventData_t"] = Of<EventData>(),
        ["nvmlFieldValue_t"] = Of<FieldValue>(),
        ["nvmlGpuFabricInfo_v3_t"] = Of<GpuFabricInfoV3>(),
    };

    /// <summary>(nvml.h struct, sizeof in nvml.h).</summary>
    public static TheoryData<string, int> Sizes => new()
    {
        { "nvmlPciInfo_t", 68 },
        { "nvmlMemory_v2_t", 40 },
        { "nvmlProcessInfo_t", 24 },
        { "nvmlGpuInstancePlacement_t", 8 },
        { "nvmlGpuInstanceProfileInfo_v2_t", 152 },
        { "nvmlGpuInstanceProfileInfo_v3_t", 152 },
        { "nvmlGpuInstanceInfo_t", 24 },
        { "nvmlComputeInstanceProfileInfo_v2_t", 136 },
        { "nvmlComputeInstanceInfo_t", 32 },
        { "nvmlEventData_t", 32 },
        { "nvmlFieldValue_t", 40 },
        { "nvmlGpuFabricInfo_v3_t", 40 },
    };

    /// <summary>(nvml.h struct, its field, offsetof in nvml.h, our field).</summary>
    public static TheoryData<string, string, int, string> Offsets => new()
    {
        { "nvmlPciInfo_t", "busIdLegacy", 0, nameof(PciInfo.BusIdLegacy) },
        { "nvmlPciInfo_t", "domain", 16, nameof(PciInfo.Domain) },
        { "nvmlPciInfo_t", "bus", 20, nameof(PciInfo.Bus) },
        { "nvmlPciInfo_t", "device", 24, nameof(PciInfo.Device) },
        { "nvmlPciInfo_t", "pciDeviceId", 28, nameof(PciInfo.PciDeviceId) },
        { "nvmlPciInfo_t", "pciSubSystemId", 32, nameof(PciInfo.PciSubSystemId) },
        { "nvmlPciInfo_t", "busId", 36, nameof(PciInfo.BusId) },
        { "nvmlMemory_v2_t", "version", 0, nameof(MemoryV2.Version) },
        { "nvmlMemory_v2_t", "total", 8, nameof(MemoryV2.Total) },
        { "nvmlMemory_v2_t", "reserved", 16, nameof(MemoryV2.Reserved) },
        { "nvmlMemory_v2_t", "free", 24, nameof(MemoryV2.Free) },
        { "nvmlMemory_v2_t", "used", 32, nameof(MemoryV2.Used) },
        { "nvmlProcessInfo_t", "pid", 0, nameof(ProcessInfo.Pid) },
        { "nvmlProcessInfo_t", "usedGpuMemory", 8, nameof(ProcessInfo.UsedGpuMemory) },
        { "nvmlProcessInfo_t", "gpuInstanceId", 16, nameof(ProcessInfo.GpuInstanceId) },
        { "nvmlProcessInfo_t", "computeInstanceId", 20, nameof(ProcessInfo.ComputeInstanceId) },
        { "nvmlGpuInstancePlacement_t", "start", 0, nameof(Placement.Start) },
        { "nvmlGpuInstancePlacement_t", "size", 4, nameof(Placement.Size) },
        { "nvmlGpuInstanceProfileInfo_v2_t", "id", 4, nameof(GpuInstanceProfileInfoV2.Id) },
        { "nvmlGpuInstanceProfileInfo_v2_t", "isP2pSupported", 8, nameof(GpuInstanceProfileInfoV2.IsP2pSupported) },
        { "nvmlGpuInstanceProfileInfo_v2_t", "sliceCount", 12, nameof(GpuInstanceProfileInfoV2.SliceCount) },
        { "nvmlGpuInstanceProfileInfo_v2_t", "instanceCount", 16, nameof(GpuInstanceProfileInfoV2.InstanceCount) },
        { "nvmlGpuInstanceProfileInfo_v2_t", "multiprocessorCount", 20, nameof(GpuInstanceProfileInfoV2.MultiprocessorCount) },
        { "nvmlGpuInstanceProfileInfo_v2_t", "memorySizeMB", 48, nameof(GpuInstanceProfileInfoV2.MemorySizeMB) },
        { "nvmlGpuInstanceProfileInfo_v2_t", "name", 56, nameof(GpuInstanceProfileInfoV2.Name) },
        { "nvmlGpuInstanceProfileInfo_v3_t", "id", 4, nameof(GpuInstanceProfileInfoV3.Id) },
        { "nvmlGpuInstanceProfileInfo_v3_t", "sliceCount", 8, nameof(GpuInstanceProfileInfoV3.SliceCount) },
        { "nvmlGpuInstanceProfileInfo_v3_t", "instanceCount", 12, nameof(GpuInstanceProfileInfoV3.InstanceCount) },
        { "nvmlGpuInstanceProfileInfo_v3_t", "multiprocessorCount", 16, nameof(GpuInstanceProfileInfoV3.MultiprocessorCount) },
        { "nvmlGpuInstanceProfileInfo_v3_t", "ofaCount", 36, nameof(GpuInstanceProfileInfoV3.OfaCount) },
        { "nvmlGpuInstanceProfileInfo_v3_t", "memorySizeMB", 40, nameof(GpuInstanceProfileInfoV3.MemorySizeMB) },
        { "nvmlGpuInstanceProfileInfo_v3_t", "name", 48, nameof(GpuInstanceProfileInfoV3.Name) },
        { "nvmlGpuInstanceProfileInfo_v3_t", "capabilities", 144, nameof(GpuInstanceProfileInfoV3.Capabilities) },
        { "nvmlGpuInstanceInfo_t", "device", 0, nameof(GpuInstanceInfo.Device) },
        { "nvmlGpuInstanceInfo_t", "id", 8, nameof(GpuInstanceInfo.Id) },
        { "nvmlGpuInstanceInfo_t", "profileId", 12, nameof(GpuInstanceInfo.ProfileId) },
        { "nvmlGpuInstanceInfo_t", "placement", 16, nameof(GpuInstanceInfo.Placement) },
        { "nvmlComputeInstanceProfileInfo_v2_t", "id", 4, nameof(ComputeInstanceProfileInfoV2.Id) },
        { "nvmlComputeInstanceProfileInfo_v2_t", "sliceCount", 8, nameof(ComputeInstanceProfileInfoV2.SliceCount) },
        { "nvmlComputeInstanceProfileInfo_v2_t", "instanceCount", 12, nameof(ComputeInstanceProfileInfoV2.InstanceCount) },
        { "nvmlComputeInstanceProfileInfo_v2_t", "name", 40, nameof(ComputeInstanceProfileInfoV2.Name) },
        { "nvmlComputeInstanceInfo_t", "device", 0, nameof(ComputeInstanceInfo.Device) },
        { "nvmlComputeInstanceInfo_t", "gpuInstance", 8, nameof(ComputeInstanceInfo.GpuInstance) },
        { "nvmlComputeInstanceInfo_t", "id", 16, nameof(ComputeInstanceInfo.Id) },
        { "nvmlComputeInstanceInfo_t", "profileId", 20, nameof(ComputeInstanceInfo.ProfileId) },
        { "nvmlComputeInstanceInfo_t", "placement", 24, nameof(ComputeInstanceInfo.Placement) },
        { "nvmlEventData_t", "device", 0, nameof(EventData.Device) },
        { "nvmlEventData_t", "eventType", 8, nameof(EventData.EventType) },
        { "nvmlEventData_t", "eventData", 16, nameof(EventData.Data) },
        { "nvmlEventData_t", "gpuInstanceId", 24, nameof(EventData.GpuInstanceId) },
        { "nvmlEventData_t", "computeInstanceId", 28, nameof(EventData.ComputeInstanceId) },
        { "nvmlFieldValue_t", "fieldId", 0, nameof(FieldValue.FieldId) },
        { "nvmlFieldValue_t", "scopeId", 4, nameof(FieldValue.ScopeId) },
        { "nvmlFieldValue_t", "timestamp", 8, nameof(FieldValue.Timestamp) },
        { "nvmlFieldValue_t", "latencyUsec", 16, nameof(FieldValue.LatencyUsec) },
        { "nvmlFieldValue_t", "valueType", 24, nameof(FieldValue.ValueType) },
        { "nvmlFieldValue_t", "nvmlReturn", 28, nameof(FieldValue.NvmlReturn) },
        { "nvmlFieldValue_t", "value", 32, nameof(FieldValue.Value) },
        { "nvmlGpuFabricInfo_v3_t", "clusterUuid", 4, nameof(GpuFabricInfoV3.ClusterUuid) },
        { "nvmlGpuFabricInfo_v3_t", "status", 20, nameof(GpuFabricInfoV3.Status) },
        { "nvmlGpuFabricInfo_v3_t", "cliqueId", 24, nameof(GpuFabricInfoV3.CliqueId) },
        { "nvmlGpuFabricInfo_v3_t", "state", 28, nameof(GpuFabricInfoV3.State) },
        { "nvmlGpuFabricInfo_v3_t", "healthMask", 32, nameof(GpuFabricInfoV3.HealthMask) },
        { "nvmlGpuFabricInfo_v3_t", "healthSummary", 36, nameof(GpuFabricInfoV3.HealthSummary) },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Each_struct_has_the_size_of_its_nvml_h_counterpart(string headerStruct, int sizeInHeader)
    {
        Assert.Equal(sizeInHeader, Ours[headerStruct].Size);
    }

    [Theory]
    [MemberData(nameof(Offsets))]
    public void Each_field_sits_at_its_nvml_h_offset(string headerStruct, string headerField, int offsetInHeader, string field)
    {
        int ours = Ours[headerStruct].OffsetOf(field);
        Assert.True(offsetInHeader == ours, $"{headerStruct}.{headerField}: nvml.h has it at {offsetInHeader}, {Ours[headerStruct].Name}.{field} is at {ours}");
    }

    [Fact]
    public void Every_struct_handed_to_NVML_is_checked()
    {
        Assert.Equal(Ours.Keys.Order(), Sizes.Select(row => (string)row[0]).Order());
        Assert.Equal(Ours.Keys.Order(), Offsets.Select(row => (string)row[0]).Distinct().Order());
    }

    [Fact]
    public void The_fabric_state_is_one_byte_as_nvmlGpuFabricState_t_is_an_unsigned_char()
    {
        Assert.Equal(typeof(byte), typeof(GpuFabricInfoV3).GetField(nameof(GpuFabricInfoV3.State))!.FieldType);
    }

    private static (string Name, int Size, Func<string, int> OffsetOf) Of<T>()
        where T : struct => (typeof(T).Name, Marshal.SizeOf<T>(), field => (int)Marshal.OffsetOf<T>(field));
}
