using System.Runtime.InteropServices;
using System.Text;
using AiFactory.Host.Hardware.Nvml.Interop;
using static AiFactory.Host.Hardware.Nvml.Interop.NativeMethods;

namespace AiFactory.Host.Hardware.Nvml;

/// <summary>An initialised NVML (one nvmlInitWithFlags); <see cref="Dispose"/> calls nvmlShutdown.</summary>
internal sealed unsafe partial class NvmlSession : INvml, IDisposable
{
    private const uint NoId = 0xFFFFFFFF;
    private const int MaxNvLinks = 18;
    private int _disposed;

    /// <summary>The nvmlGpuInstanceProfileInfo struct version the driver takes: 0 not yet known, 2 or 3.</summary>
    private int _profileInfoVersion;

    public string DriverVersion
    {
        get
        {
            byte* buffer = stackalloc byte[80];
            Check(SystemGetDriverVersion(buffer, 80), "nvmlSystemGetDriverVersion");
            return Utf8(buffer, 80);
        }
    }

    public int CudaDriverVersion
    {
        get
        {
            int version;
            Check(SystemGetCudaDriverVersion(&version), "nvmlSystemGetCudaDriverVersion");
            return version;
        }
    }

    public uint DeviceCount
    {
        get
        {
            uint count;
            Check(DeviceGetCount(&count), "nvmlDeviceGetCount_v2");
            return count;
        }
    }

    public NvmlDevice GetDevice(uint index)
    {
        nint device;
        Check(DeviceGetHandleByIndex(index, &device), "nvmlDeviceGetHandleByIndex_v2");
        return new NvmlDevice(device);
    }

    public string GetName(NvmlDevice device)
    {
        byte* buffer = stackalloc byte[96];
        Check(DeviceGetName(device.Handle, buffer, 96), "nvmlDeviceGetName");
        return Utf8(buffer, 96);
    }

    public string GetUuid(NvmlDevice device)
    {
        byte* buffer = stackalloc byte[96];
        Check(DeviceGetUuid(device.Handle, buffer, 96), "nvmlDeviceGetUUID");
        return Utf8(buffer, 96);
    }

    public string GetSerial(NvmlDevice device)
    {
        byte* buffer = stackalloc byte[30];
        Check(DeviceGetSerial(device.Handle, buffer, 30), "nvmlDeviceGetSerial");
        return Utf8(buffer, 30);
    }

    public NvmlPciInfo GetPciInfo(NvmlDevice device)
    {
        PciInfo pci;
        Check(DeviceGetPciInfo(device.Handle, &pci), "nvmlDeviceGetPciInfo_v3");
        return new NvmlPciInfo(Utf8(pci.BusId, 32), pci.PciDeviceId, pci.PciSubSystemId);
    }

    public NvmlMemory GetMemory(NvmlDevice device)
    {
        var memory = new MemoryV2 { Version = StructVersion<MemoryV2>(2) };
        Check(DeviceGetMemoryInfo(device.Handle, &memory), "nvmlDeviceGetMemoryInfo_v2");
        return new NvmlMemory(memory.Total, memory.Reserved, memory.Free, memory.Used);
    }

    public bool GetPersistenceMode(NvmlDevice device)
    {
        int mode;
        Check(DeviceGetPersistenceMode(device.Handle, &mode), "nvmlDeviceGetPersistenceMode");
        return mode != 0;
    }

    public int GetVirtualizationMode(NvmlDevice device)
    {
        int mode;
        Check(DeviceGetVirtualizationMode(device.Handle, &mode), "nvmlDeviceGetVirtualizationMode");
        return mode;
    }

    public int? GetNumaNode(NvmlDevice device)
    {
        uint node;
        NvmlReturn rc = DeviceGetNumaNodeId(device.Handle, &node);
        return rc == NvmlReturn.NotSupported ? null : (int)Check(rc, "nvmlDeviceGetNumaNodeId", node);
    }

    public IReadOnlyList<int> GetCpuAffinity(NvmlDevice device)
    {
        const uint words = 128; // 8192 CPUs
        ulong* mask = stackalloc ulong[(int)words];
        Check(DeviceGetCpuAffinity(device.Handle, words, mask), "nvmlDeviceGetCpuAffinity");
        var cpus = new List<int>();
        for (int w = 0; w < words; w++)
        {
            for (ulong bits = mask[w]; bits != 0; bits &= bits - 1)
            {
                cpus.Add((w * 64) + System.Numerics.BitOperations.TrailingZeroCount(bits));
            }
        }

        return cpus;
    }

    public IReadOnlyList<(bool Active, string? RemoteBusId)> GetNvLinks(NvmlDevice device)
    {
        var links = new List<(bool, string?)>();
        for (uint link = 0; link < MaxNvLinks; link++)
        {
            int active;
            NvmlReturn rc = DeviceGetNvLinkState(device.Handle, link, &active);
            if (rc is NvmlReturn.NotSupported or NvmlReturn.InvalidArgument)
            {
                break;
            }

            Check(rc, "nvmlDeviceGetNvLinkState");
            PciInfo pci;
            string? remote = DeviceGetNvLinkRemotePciInfo(device.Handle, link, &pci) == NvmlReturn.Success ? Utf8(pci.BusId, 32) : null;
            links.Add((active != 0, remote));
        }

        return links;
    }

    public NvmlFabricInfo? GetFabricInfo(NvmlDevice device)
    {
        var info = new GpuFabricInfoV3 { Version = StructVersion<GpuFabricInfoV3>(3) };
        GpuFabricInfoV3* p = &info;
        nint handle = device.Handle;
        NvmlReturn rc = Newer(() => DeviceGetGpuFabricInfoV(handle, p)); // R550 on; the v3 struct from R580
        if (rc is NvmlReturn.NotSupported or NvmlReturn.FunctionNotFound or NvmlReturn.ArgumentVersionMismatch or NvmlReturn.InvalidArgument)
        {
            // A driver without the call, or one that knows an older struct version (it answers either code): no
            // fabric for this GPU, rather than a failed listing.
            return null;
        }

        Check(rc, "nvmlDeviceGetGpuFabricInfoV");
        return new NvmlFabricInfo(Convert.ToHexStringLower(new ReadOnlySpan<byte>(info.ClusterUuid, 16)), info.CliqueId, info.State, (NvmlReturn)info.Status, info.HealthMask);
    }

    public ulong GetTotalEccErrors(NvmlDevice device, bool uncorrected, bool aggregate)
    {
        ulong count;
        Check(DeviceGetTotalEccErrors(device.Handle, uncorrected ? 1 : 0, aggregate ? 1 : 0, &count), "nvmlDeviceGetTotalEccErrors");
        return count;
    }

    public NvmlRemappedRows? GetRemappedRows(NvmlDevice device)
    {
        uint cor, unc, pending, failure;
        NvmlReturn rc = DeviceGetRemappedRows(device.Handle, &cor, &unc, &pending, &failure);
        return rc == NvmlReturn.NotSupported ? null : Check(rc, "nvmlDeviceGetRemappedRows", new NvmlRemappedRows(cor, unc, pending != 0, failure != 0));
    }

    public bool? GetRetiredPagesPending(NvmlDevice device)
    {
        int pending;
        NvmlReturn rc = DeviceGetRetiredPagesPendingStatus(device.Handle, &pending);
        return rc == NvmlReturn.NotSupported ? null : Check(rc, "nvmlDeviceGetRetiredPagesPendingStatus", pending != 0);
    }

    public IReadOnlyList<NvmlProcess> GetComputeProcesses(NvmlDevice device)
    {
        for (uint capacity = 16; ; capacity *= 4)
        {
            var buffer = new ProcessInfo[capacity];
            uint count = capacity;
            NvmlReturn rc;
            fixed (ProcessInfo* p = buffer)
            {
                rc = DeviceGetComputeRunningProcesses(device.Handle, &count, p);
            }

            if (rc == NvmlReturn.InsufficientSize && capacity < 4096)
            {
                continue;
            }

            Check(rc, "nvmlDeviceGetComputeRunningProcesses_v3");
            var result = new NvmlProcess[count];
            for (int i = 0; i < count; i++)
            {
                ProcessInfo info = buffer[i];
                result[i] = new NvmlProcess(info.Pid, info.UsedGpuMemory, info.GpuInstanceId == NoId ? null : info.GpuInstanceId, info.ComputeInstanceId == NoId ? null : info.ComputeInstanceId);
            }

            return result;
        }
    }

    public NvmlUtilization GetUtilization(NvmlDevice device)
    {
        uint* rates = stackalloc uint[2];
        Check(DeviceGetUtilizationRates(device.Handle, rates), "nvmlDeviceGetUtilizationRates");
        return new NvmlUtilization(rates[0], rates[1]);
    }

    public uint GetEncoderUtilization(NvmlDevice device)
    {
        uint percent, periodUs;
        Check(DeviceGetEncoderUtilization(device.Handle, &percent, &periodUs), "nvmlDeviceGetEncoderUtilization");
        return percent;
    }

    public uint GetDecoderUtilization(NvmlDevice device)
    {
        uint percent, periodUs;
        Check(DeviceGetDecoderUtilization(device.Handle, &percent, &periodUs), "nvmlDeviceGetDecoderUtilization");
        return percent;
    }

    public uint GetGpuTemperature(NvmlDevice device)
    {
        uint temp;
        Check(DeviceGetTemperature(device.Handle, 0, &temp), "nvmlDeviceGetTemperature");
        return temp;
    }

    public uint GetPowerUsage(NvmlDevice device)
    {
        uint milliwatts;
        Check(DeviceGetPowerUsage(device.Handle, &milliwatts), "nvmlDeviceGetPowerUsage");
        return milliwatts;
    }

    public uint GetClock(NvmlDevice device, NvmlClockType type)
    {
        uint mhz;
        Check(DeviceGetClockInfo(device.Handle, (int)type, &mhz), "nvmlDeviceGetClockInfo");
        return mhz;
    }

    public void GetFieldValues(NvmlDevice device, Span<NvmlFieldValue> values)
    {
        FieldValue* raw = stackalloc FieldValue[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            raw[i] = new FieldValue { FieldId = values[i].FieldId };
        }

        Check(DeviceGetFieldValues(device.Handle, values.Length, raw), "nvmlDeviceGetFieldValues");
        for (int i = 0; i < values.Length; i++)
        {
            values[i].Return = (NvmlReturn)raw[i].NvmlReturn;
            values[i].Value = raw[i].Value;
        }
    }

    public (bool Current, bool Pending)? GetMigMode(NvmlDevice device)
    {
        uint current, pending;
        NvmlReturn rc = DeviceGetMigMode(device.Handle, &current, &pending);
        return rc == NvmlReturn.NotSupported ? null : Check(rc, "nvmlDeviceGetMigMode", (current != 0, pending != 0));
    }

    public NvmlReturn SetMigMode(NvmlDevice device, bool enabled)
    {
        NvmlReturn activation;
        Check(DeviceSetMigMode(device.Handle, enabled ? 1u : 0u, &activation), "nvmlDeviceSetMigMode");
        return activation;
    }

    public NvmlGpuInstanceProfile? GetGpuInstanceProfile(NvmlDevice device, uint profileIndex)
    {
        // nvmlGpuInstanceProfileInfo_v3_t came with R545's header; R535 and older answer a v3 struct with
        // ARGUMENT_VERSION_MISMATCH or INVALID_ARGUMENT (the code it also gives an index the GPU has no profile at).
        // Index 0 (the 1-slice profile) is there on every MIG GPU, so a refusal there is the version: ask again
        // with v2 and keep v2 for the session.
        if (_profileInfoVersion != 2)
        {
            var v3 = new GpuInstanceProfileInfoV3 { Version = StructVersion<GpuInstanceProfileInfoV3>(3) };
            NvmlReturn rc = DeviceGetGpuInstanceProfileInfoV(device.Handle, profileIndex, &v3);
            bool versionRefused = rc == NvmlReturn.ArgumentVersionMismatch || (rc == NvmlReturn.InvalidArgument && profileIndex == 0 && _profileInfoVersion == 0);
            if (!versionRefused)
            {
                if (rc is NvmlReturn.NotSupported or NvmlReturn.InvalidArgument)
                {
                    return null;
                }

                Check(rc, "nvmlDeviceGetGpuInstanceProfileInfoV");
                _profileInfoVersion = 3;
                return new NvmlGpuInstanceProfile(v3.Id, Utf8(v3.Name, 96), v3.SliceCount, v3.InstanceCount, v3.MemorySizeMB, v3.MultiprocessorCount);
            }
        }

        var v2 = new GpuInstanceProfileInfoV2 { Version = StructVersion<GpuInstanceProfileInfoV2>(2) };
        NvmlReturn rc2 = DeviceGetGpuInstanceProfileInfoV(device.Handle, profileIndex, &v2);
        if (rc2 is NvmlReturn.NotSupported || (rc2 is NvmlReturn.InvalidArgument && _profileInfoVersion == 2))
        {
            return null;
        }

        // Refused in both versions: an error to report, never a GPU "without profiles".
        Check(rc2, "nvmlDeviceGetGpuInstanceProfileInfoV");
        _profileInfoVersion = 2;
        return new NvmlGpuInstanceProfile(v2.Id, Utf8(v2.Name, 96), v2.SliceCount, v2.InstanceCount, v2.MemorySizeMB, v2.MultiprocessorCount);
    }

    public IReadOnlyList<NvmlPlacement> GetPossiblePlacements(NvmlDevice device, uint profileId)
    {
        // nvml.h: placements NULL asks for the count; a buffer given "must be large enough": size it from that.
        uint count = 0;
        Check(DeviceGetGpuInstancePossiblePlacements(device.Handle, profileId, null, &count), "nvmlDeviceGetGpuInstancePossiblePlacements_v2");
        if (count == 0)
        {
            return [];
        }

        var buffer = new Placement[count];
        uint filled = count;
        fixed (Placement* p = buffer)
        {
            Check(DeviceGetGpuInstancePossiblePlacements(device.Handle, profileId, p, &filled), "nvmlDeviceGetGpuInstancePossiblePlacements_v2");
        }

        var result = new NvmlPlacement[Clamp(filled, count, "nvmlDeviceGetGpuInstancePossiblePlacements_v2")];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = new NvmlPlacement(buffer[i].Start, buffer[i].Size);
        }

        return result;
    }

    public uint GetRemainingCapacity(NvmlDevice device, uint profileId)
    {
        uint count;
        Check(DeviceGetGpuInstanceRemainingCapacity(device.Handle, profileId, &count), "nvmlDeviceGetGpuInstanceRemainingCapacity");
        return count;
    }

    public NvmlGpuInstance CreateGpuInstance(NvmlDevice device, uint profileId, NvmlPlacement placement)
    {
        var p = new Placement { Start = placement.Start, Size = placement.Size };
        nint instance;
        Check(DeviceCreateGpuInstanceWithPlacement(device.Handle, profileId, &p, &instance), "nvmlDeviceCreateGpuInstanceWithPlacement");
        return new NvmlGpuInstance(instance);
    }

    public void DestroyGpuInstance(NvmlGpuInstance instance) =>
        Check(GpuInstanceDestroy(instance.Handle), "nvmlGpuInstanceDestroy");

    public IReadOnlyList<NvmlGpuInstance> GetGpuInstances(NvmlDevice device, uint profileId)
    {
        nint* buffer = stackalloc nint[32];
        uint count = 32;
        NvmlReturn rc = DeviceGetGpuInstances(device.Handle, profileId, buffer, &count);
        if (rc == NvmlReturn.NotSupported)
        {
            return [];
        }

        Check(rc, "nvmlDeviceGetGpuInstances");
        var result = new NvmlGpuInstance[Clamp(count, 32, "nvmlDeviceGetGpuInstances")];
        for (int i = 0; i < count; i++)
        {
            result[i] = new NvmlGpuInstance(buffer[i]);
        }

        return result;
    }

    public NvmlGpuInstanceInfo GetGpuInstanceInfo(NvmlGpuInstance instance)
    {
        GpuInstanceInfo info;
        Check(GpuInstanceGetInfo(instance.Handle, &info), "nvmlGpuInstanceGetInfo");
        return new NvmlGpuInstanceInfo(info.Id, info.ProfileId, new NvmlPlacement(info.Placement.Start, info.Placement.Size));
    }

    public NvmlComputeInstanceProfile? GetComputeInstanceProfile(NvmlGpuInstance instance, uint profileIndex)
    {
        var info = new ComputeInstanceProfileInfoV2 { Version = StructVersion<ComputeInstanceProfileInfoV2>(2) };
        NvmlReturn rc = GpuInstanceGetComputeInstanceProfileInfoV(instance.Handle, profileIndex, 0, &info);
        if (rc is NvmlReturn.NotSupported or NvmlReturn.InvalidArgument)
        {
            return null;
        }

        Check(rc, "nvmlGpuInstanceGetComputeInstanceProfileInfoV");
        return new NvmlComputeInstanceProfile(info.Id, Utf8(info.Name, 96), info.SliceCount, info.InstanceCount);
    }

    public NvmlComputeInstance CreateComputeInstance(NvmlGpuInstance instance, uint profileId)
    {
        nint ci;
        Check(GpuInstanceCreateComputeInstance(instance.Handle, profileId, &ci), "nvmlGpuInstanceCreateComputeInstance");
        return new NvmlComputeInstance(ci);
    }

    public NvmlComputeInstance CreateComputeInstance(NvmlGpuInstance instance, uint profileId, NvmlPlacement placement)
    {
        var p = new Placement { Start = placement.Start, Size = placement.Size };
        nint ci;
        Check(GpuInstanceCreateComputeInstanceWithPlacement(instance.Handle, profileId, &p, &ci), "nvmlGpuInstanceCreateComputeInstanceWithPlacement");
        return new NvmlComputeInstance(ci);
    }

    public void DestroyComputeInstance(NvmlComputeInstance instance) =>
        Check(ComputeInstanceDestroy(instance.Handle), "nvmlComputeInstanceDestroy");

    public IReadOnlyList<NvmlComputeInstance> GetComputeInstances(NvmlGpuInstance instance, uint profileId)
    {
        nint* buffer = stackalloc nint[16];
        uint count = 16;
        NvmlReturn rc = GpuInstanceGetComputeInstances(instance.Handle, profileId, buffer, &count);
        if (rc == NvmlReturn.NotSupported)
        {
            return [];
        }

        Check(rc, "nvmlGpuInstanceGetComputeInstances");
        var result = new NvmlComputeInstance[Clamp(count, 16, "nvmlGpuInstanceGetComputeInstances")];
        for (int i = 0; i < count; i++)
        {
            result[i] = new NvmlComputeInstance(buffer[i]);
        }

        return result;
    }

    public NvmlComputeInstanceInfo GetComputeInstanceInfo(NvmlComputeInstance instance)
    {
        ComputeInstanceInfo info;
        Check(ComputeInstanceGetInfo(instance.Handle, &info), "nvmlComputeInstanceGetInfo_v2");
        return new NvmlComputeInstanceInfo(info.Id, info.ProfileId, new NvmlPlacement(info.Placement.Start, info.Placement.Size));
    }

    public NvmlEventSetHandle CreateEventSet()
    {
        nint set;
        Check(EventSetCreate(&set), "nvmlEventSetCreate");
        return new NvmlEventSetHandle(set);
    }

    public void RegisterEvents(NvmlDevice device, ulong eventTypes, NvmlEventSetHandle set)
    {
        bool added = false;
        set.DangerousAddRef(ref added);
        try
        {
            Check(DeviceRegisterEvents(device.Handle, eventTypes, set.DangerousGetHandle()), "nvmlDeviceRegisterEvents");
        }
        finally
        {
            if (added)
            {
                set.DangerousRelease();
            }
        }
    }

    public bool WaitForEvent(NvmlEventSetHandle set, uint timeoutMs, out NvmlEvent e)
    {
        EventData data;
        NvmlReturn rc;
        bool added = false;
        set.DangerousAddRef(ref added);
        try
        {
            rc = EventSetWait(set.DangerousGetHandle(), &data, timeoutMs);
        }
        finally
        {
            if (added)
            {
                set.DangerousRelease();
            }
        }

        if (rc == NvmlReturn.Timeout)
        {
            e = default;
            return false;
        }

        Check(rc, "nvmlEventSetWait_v2");
        e = new NvmlEvent(new NvmlDevice(data.Device), data.EventType, data.Data, data.GpuInstanceId == NoId ? null : data.GpuInstanceId);
        return true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            NativeMethods.Shutdown();
        }
    }

    /// <summary>
    /// Calls an entry point that older drivers lack (nvmlDeviceGetGpuFabricInfoV came with R550): where the library
    /// has no such export the [LibraryImport] stub throws <see cref="EntryPointNotFoundException"/> on its first call,
    /// and this is the one place that reads it as NVML's own NVML_ERROR_FUNCTION_NOT_FOUND. The other calls are all
    /// in R510's libnvidia-ml (memory v2, processes v3, the profile info V calls).
    /// </summary>
    private static NvmlReturn Newer(Func<NvmlReturn> call)
    {
        try
        {
            return call();
        }
        catch (EntryPointNotFoundException)
        {
            return NvmlReturn.FunctionNotFound;
        }
    }

    /// <summary>
    /// The entries to read of a fixed buffer: nvml.h makes the count output-only (the caller's buffer "must be large
    /// enough"), so a driver answering more than the buffer holds is an error here, never a read past its end.
    /// </summary>
    private static int Clamp(uint count, uint capacity, string function) =>
        count <= capacity ? (int)count : throw new NvmlException(function, NvmlReturn.InsufficientSize);

    private static void Check(NvmlReturn rc, string function)
    {
        if (rc != NvmlReturn.Success)
        {
            throw new NvmlException(function, rc);
        }
    }

    private static T Check<T>(NvmlReturn rc, string function, T value)
    {
        Check(rc, function);
        return value;
    }

    private static string Utf8(byte* buffer, int length)
    {
        var span = new ReadOnlySpan<byte>(buffer, length);
        int end = span.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
    }
}
