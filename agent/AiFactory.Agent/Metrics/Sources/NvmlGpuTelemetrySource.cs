using AiFactory.Agent.Gpu;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;

namespace AiFactory.Agent.Metrics.Sources;

/// <summary>
/// GPU telemetry from the agent's NVML session, read at scrape time. What <see cref="INvml"/> offers is mapped to
/// dcgm-exporter's fields: framebuffer used/free/reserved in whole MiB (nvmlDeviceGetMemoryInfo_v2), power
/// (nvmlDeviceGetPowerUsage, the instant-power field where that is not supported), energy, memory
/// temperature, PCIe replays, ECC and remapped rows (one nvmlDeviceGetFieldValues call), GPU and memory-copy
/// utilisation (nvmlDeviceGetUtilizationRates), encoder and decoder utilisation (nvmlDeviceGetEncoderUtilization,
/// nvmlDeviceGetDecoderUtilization), GPU temperature (nvmlDeviceGetTemperature), SM and memory clocks
/// (nvmlDeviceGetClockInfo), and per MIG GPU instance the memory its processes use against the profile's size.
/// The last XID is not polled: NVML reports XIDs only as events, which the GPU health watcher turns into
/// <c>gpu.xid</c> node events and <see cref="NodeEventRecorder"/> keeps per GPU (0 until one is seen, as dcgm-exporter).
/// An NVML error costs only what it touches: a reading that fails is left out, a GPU whose identity (UUID, bus id)
/// cannot be read, lost or fallen off the bus, is left out of this scrape while the others are reported, as
/// dcgm-exporter does; only a failing device count fails the collector. Errors are counted where NVML is wrapped
/// (<see cref="MeteredNvml"/>), not here. Without NVML (no driver, every GPU on vfio-pci) the snapshot is empty.
/// </summary>
internal sealed class NvmlGpuTelemetrySource : IGpuTelemetrySource
{
    private static readonly uint[] FieldIds =
    [
        NvmlFieldIds.EccSingleBitVolatile, NvmlFieldIds.EccDoubleBitVolatile, NvmlFieldIds.EccSingleBitAggregate,
        NvmlFieldIds.EccDoubleBitAggregate, NvmlFieldIds.MemoryTemperature, NvmlFieldIds.TotalEnergyConsumption,
        NvmlFieldIds.RemappedCorrectable, NvmlFieldIds.RemappedUncorrectable, NvmlFieldIds.RemappedFailure, NvmlFieldIds.PowerInstant,
        NvmlFieldIds.PcieReplayCounter,
    ];

    private readonly Func<INvml?> _nvml;
    private readonly AgentMetrics _metrics;
    private readonly Dictionary<string, MigProfileTable> _profiles = new(StringComparer.Ordinal);

    public NvmlGpuTelemetrySource(GpuNvml nvml, AgentMetrics metrics)
        : this(() => nvml.Nvml, metrics)
    {
    }

    internal NvmlGpuTelemetrySource(Func<INvml?> nvml, AgentMetrics metrics)
    {
        _nvml = nvml;
        _metrics = metrics;
    }

    public GpuTelemetrySnapshot Read()
    {
        lock (_profiles)
        {
            return ReadLocked();
        }
    }

    private GpuTelemetrySnapshot ReadLocked()
    {
        INvml? api = _nvml();
        if (api is null)
        {
            return GpuTelemetrySnapshot.Empty;
        }

        uint count = api.DeviceCount;
        var gpus = new List<GpuTelemetry>((int)count);
        for (uint i = 0; i < count; i++)
        {
            try
            {
                gpus.Add(ReadOne(api, api.GetDevice(i), (int)i));
            }
            catch (NvmlException)
            {
                // This GPU's handle or identity cannot be read (GPU_IS_LOST, ...): leave it out, report the others.
            }
        }

        return new GpuTelemetrySnapshot(Try(() => api.DriverVersion), gpus);
    }

    /// <summary>One GPU; throws <see cref="NvmlException"/> only when its UUID or bus id cannot be read.</summary>
    private GpuTelemetry ReadOne(INvml api, NvmlDevice device, int index)
    {
        string uuid = api.GetUuid(device);
        string busId = api.GetPciInfo(device).BusId;
        NvmlMemory? memory = Try(() => (NvmlMemory?)api.GetMemory(device));
        Span<NvmlFieldValue> fields = stackalloc NvmlFieldValue[FieldIds.Length];
        for (int f = 0; f < FieldIds.Length; f++)
        {
            fields[f].FieldId = FieldIds[f];
        }

        bool fieldsRead = true;
        try
        {
            api.GetFieldValues(device, fields);
        }
        catch (NvmlException)
        {
            fieldsRead = false;
        }

        // A field NVML could not read (NOT_SUPPORTED, or an error of its own) is simply left out.
        double? Field(uint id, ReadOnlySpan<NvmlFieldValue> values)
        {
            if (!fieldsRead)
            {
                return null;
            }

            foreach (NvmlFieldValue v in values)
            {
                if (v.FieldId == id)
                {
                    return v.Return == NvmlReturn.Success ? v.Value : null;
                }
            }

            return null;
        }

        double? remapFailure = Field(NvmlFieldIds.RemappedFailure, fields);
        NvmlUtilization? utilization = Try(() => (NvmlUtilization?)api.GetUtilization(device));
        return new GpuTelemetry
        {
            Index = index,
            Uuid = uuid,
            PciBusId = busId,
            ModelName = Try(() => api.GetName(device)) ?? "unknown",
            FbUsedMiB = memory is { } m1 ? WholeMiB(m1.Used) : null,
            FbFreeMiB = memory is { } m2 ? WholeMiB(m2.Free) : null,
            FbReservedMiB = memory is { } m3 ? WholeMiB(m3.Reserved) : null,
            GpuUtilPercent = utilization?.Gpu,
            MemCopyUtilPercent = utilization?.Memory,
            EncoderUtilPercent = Try(() => (double?)api.GetEncoderUtilization(device)),
            DecoderUtilPercent = Try(() => (double?)api.GetDecoderUtilization(device)),
            LastXid = _metrics.LastXid(uuid),
            GpuTempCelsius = Try(() => (double?)api.GetGpuTemperature(device)),
            SmClockMHz = Try(() => (double?)api.GetClock(device, NvmlClockType.Sm)),
            MemClockMHz = Try(() => (double?)api.GetClock(device, NvmlClockType.Memory)),
            PcieReplays = Field(NvmlFieldIds.PcieReplayCounter, fields),
            MemoryTempCelsius = Field(NvmlFieldIds.MemoryTemperature, fields),
            PowerWatts = PowerMilliwatts(api, device, Field(NvmlFieldIds.PowerInstant, fields)) / 1000.0,
            TotalEnergyMillijoules = Field(NvmlFieldIds.TotalEnergyConsumption, fields),
            EccSbeVolatile = Field(NvmlFieldIds.EccSingleBitVolatile, fields),
            EccDbeVolatile = Field(NvmlFieldIds.EccDoubleBitVolatile, fields),
            EccSbeAggregate = Field(NvmlFieldIds.EccSingleBitAggregate, fields),
            EccDbeAggregate = Field(NvmlFieldIds.EccDoubleBitAggregate, fields),
            CorrectableRemappedRows = Field(NvmlFieldIds.RemappedCorrectable, fields),
            UncorrectableRemappedRows = Field(NvmlFieldIds.RemappedUncorrectable, fields),
            RowRemapFailure = remapFailure is { } rf ? rf != 0 : null,
            MigInstances = ReadMig(api, device, uuid),
        };
    }

    /// <summary>The GPU instances with the memory their processes use (nvmlDeviceGetComputeRunningProcesses by GPU instance).</summary>
    private IReadOnlyList<MigInstanceTelemetry> ReadMig(INvml api, NvmlDevice device, string uuid)
    {
        (bool Current, bool Pending)? mode = Try(() => api.GetMigMode(device));
        if (mode is not { Current: true })
        {
            return [];
        }

        try
        {
            if (!_profiles.TryGetValue(uuid, out MigProfileTable? table))
            {
                table = Gpu.MigReader.ReadProfiles(api, device);
                _profiles[uuid] = table;
            }

            var usedByInstance = new Dictionary<uint, ulong>();
            foreach (NvmlProcess p in api.GetComputeProcesses(device))
            {
                if (p.GpuInstanceId is { } gi)
                {
                    usedByInstance[gi] = usedByInstance.GetValueOrDefault(gi) + p.UsedGpuMemory;
                }
            }

            var result = new List<MigInstanceTelemetry>();
            foreach (MigProfile profile in table.Profiles)
            {
                foreach (NvmlGpuInstance instance in api.GetGpuInstances(device, profile.Id))
                {
                    NvmlGpuInstanceInfo info = api.GetGpuInstanceInfo(instance);
                    // An estimate (documented in README and docs/metrics.md): processes' memory in the instance, and
                    // the profile's size less that; the driver's own use of the instance's memory is not seen here.
                    double used = WholeMiB(usedByInstance.GetValueOrDefault(info.Id));
                    result.Add(new MigInstanceTelemetry((int)info.Id, profile.Name, used, Math.Max(0, profile.MemoryMiB - used)));
                }
            }

            result.Sort((a, b) => a.GpuInstanceId.CompareTo(b.GpuInstanceId));
            return result;
        }
        catch (NvmlException)
        {
            return [];
        }
    }

    /// <summary>
    /// Whole MiB, rounded down: DCGM keeps framebuffer sizes as integers in MiB (bytes / 1 MiB), and dcgm-exporter
    /// serves them so; a fraction would make our series differ from its for the same GPU.
    /// </summary>
    internal static double WholeMiB(ulong bytes) => bytes / (1024 * 1024);

    /// <summary>
    /// DCGM_FI_DEV_POWER_USAGE as DCGM reads it: nvmlDeviceGetPowerUsage (DCGM field 155; averaged over a second on
    /// Ampere and later). Only where that is NOT_SUPPORTED does the instant reading (NVML field 186, read with the
    /// others) stand in; another error leaves the reading out, as for every other field.
    /// </summary>
    private static double? PowerMilliwatts(INvml api, NvmlDevice device, double? instantMilliwatts)
    {
        try
        {
            return api.GetPowerUsage(device);
        }
        catch (NvmlException ex) when (ex.Code == NvmlReturn.NotSupported)
        {
            return instantMilliwatts;
        }
        catch (NvmlException)
        {
            return null;
        }
    }

    private static T? Try<T>(Func<T?> call)
    {
        try
        {
            return call();
        }
        catch (NvmlException)
        {
            return default;
        }
    }
}
