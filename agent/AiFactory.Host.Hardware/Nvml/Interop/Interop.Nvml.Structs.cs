using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Nvml.Interop;

// Structs laid out exactly as nvml.h defines them: sizes and offsets are asserted against the header's, field by field,
// in tests/AiFactory.Gpu.Tests/NvmlStructLayoutTests.cs.
internal static partial class NativeMethods
{
    /// <summary>NVML_STRUCT_VERSION(data, ver): sizeof(struct) | ver &lt;&lt; 24.</summary>
    internal static unsafe uint StructVersion<T>(uint version)
        where T : unmanaged => (uint)sizeof(T) | (version << 24);

    /// <summary>nvmlPciInfo_t (68 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct PciInfo
    {
        public fixed byte BusIdLegacy[16];
        public uint Domain;
        public uint Bus;
        public uint Device;
        public uint PciDeviceId;
        public uint PciSubSystemId;
        public fixed byte BusId[32];
    }

    /// <summary>nvmlMemory_v2_t (40 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MemoryV2
    {
        public uint Version;
        public ulong Total;
        public ulong Reserved;
        public ulong Free;
        public ulong Used;
    }

    /// <summary>nvmlProcessInfo_t (v2 layout, 24 bytes), filled by nvmlDeviceGetComputeRunningProcesses_v3.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ProcessInfo
    {
        public uint Pid;
        public ulong UsedGpuMemory;
        public uint GpuInstanceId;
        public uint ComputeInstanceId;
    }

    /// <summary>nvmlGpuInstancePlacement_t; also nvmlComputeInstancePlacement_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Placement
    {
        public uint Start;
        public uint Size;
    }

    /// <summary>nvmlGpuInstanceProfileInfo_v3_t (152 bytes), for nvmlDeviceGetGpuInstanceProfileInfoV.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct GpuInstanceProfileInfoV3
    {
        public uint Version;
        public uint Id;
        public uint SliceCount;
        public uint InstanceCount;
        public uint MultiprocessorCount;
        public uint CopyEngineCount;
        public uint DecoderCount;
        public uint EncoderCount;
        public uint JpegCount;
        public uint OfaCount;
        public ulong MemorySizeMB;
        public fixed byte Name[96];
        public uint Capabilities;
    }

    /// <summary>nvmlGpuInstanceProfileInfo_v2_t (152 bytes), what drivers before R545 take: isP2pSupported at offset 8.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct GpuInstanceProfileInfoV2
    {
        public uint Version;
        public uint Id;
        public uint IsP2pSupported;
        public uint SliceCount;
        public uint InstanceCount;
        public uint MultiprocessorCount;
        public uint CopyEngineCount;
        public uint DecoderCount;
        public uint EncoderCount;
        public uint JpegCount;
        public uint OfaCount;
        public ulong MemorySizeMB;
        public fixed byte Name[96];
    }

    /// <summary>nvmlGpuInstanceInfo_t (24 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct GpuInstanceInfo
    {
        public nint Device;
        public uint Id;
        public uint ProfileId;
        public Placement Placement;
    }

    /// <summary>nvmlComputeInstanceProfileInfo_v2_t (136 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct ComputeInstanceProfileInfoV2
    {
        public uint Version;
        public uint Id;
        public uint SliceCount;
        public uint InstanceCount;
        public uint MultiprocessorCount;
        public uint SharedCopyEngineCount;
        public uint SharedDecoderCount;
        public uint SharedEncoderCount;
        public uint SharedJpegCount;
        public uint SharedOfaCount;
        public fixed byte Name[96];
    }

    /// <summary>nvmlComputeInstanceInfo_t (32 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct ComputeInstanceInfo
    {
        public nint Device;
        public nint GpuInstance;
        public uint Id;
        public uint ProfileId;
        public Placement Placement;
    }

    /// <summary>nvmlEventData_t (32 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct EventData
    {
        public nint Device;
        public ulong EventType;
        public ulong Data;
        public uint GpuInstanceId;
        public uint ComputeInstanceId;
    }

    /// <summary>nvmlFieldValue_t (40 bytes); the value union is read as its 8 raw bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct FieldValue
    {
        public uint FieldId;
        public uint ScopeId;
        public long Timestamp;
        public long LatencyUsec;
        public int ValueType;
        public int NvmlReturn;
        public ulong Value;
    }

    /// <summary>nvmlGpuFabricInfo_v3_t (40 bytes), for nvmlDeviceGetGpuFabricInfoV.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct GpuFabricInfoV3
    {
        public uint Version;
        public fixed byte ClusterUuid[16];
        public int Status;
        public uint CliqueId;
        public byte State; // nvmlGpuFabricState_t (unsigned char); healthMask stays at offset 32
        public uint HealthMask;
        public byte HealthSummary;
    }
}
