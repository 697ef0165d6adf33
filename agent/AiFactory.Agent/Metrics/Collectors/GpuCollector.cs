using System.Globalization;
using XidTable = AiFactory.Agent.Gpu.XidTable;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Agent.Metrics.Sources;
using L = AiFactory.Agent.Metrics.MetricNames.Labels;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>
/// dcgm-exporter's GPU series from NVML readings, with its label keys in its order: gpu, UUID, pci_bus_id,
/// device, modelName, GPU_I_PROFILE and GPU_I_ID on MIG instances, Hostname, DCGM_FI_DRIVER_VERSION
/// (and err_code, err_msg on the XID series).
/// <para>
/// Which entities get series follows dcgm-exporter's default device option, "f" (flex): a GPU without MIG, or in
/// MIG mode with no GPU instance, is one entity; a GPU with GPU instances is only its instances, with no series of
/// its own (dcgm-exporter internal/pkg/devicemonitoring/device_monitoring.go, <c>monitorAllGPUInstances</c> with
/// <c>addFlexibly</c>; pkg/cmd/app.go, <c>FlexKey</c> the default of <c>--devices</c>). Each instance carries the
/// GPU's device-wide readings (clocks, temperatures, power, energy, ECC, remapped rows, PCIe replays, last XID), as
/// DCGM returns the parent GPU's value for a GPU instance, so aggregate those with max or avg by gpu, not sum. Its
/// framebuffer free/used are the instance's own, so <c>sum by (gpu)</c> gives the GPU's memory once. Utilisation
/// (GPU, memory copy, encoder, decoder) and reserved framebuffer are not reported for instances: NVML and DCGM do not
/// give them per instance (dcgm-exporter issues #50, #430).
/// </para>
/// <para>
/// <c>aifactory_nvml_up</c> comes first, 1 or 0: without NVML the collector still runs and succeeds with no GPU series,
/// so that gauge is what tells a node whose GPUs go unwatched from one without GPUs.
/// </para>
/// </summary>
internal sealed class GpuCollector : IMetricsCollector
{
    private static readonly Series[] DeviceSeries =
    [
        new(MetricNames.Dcgm.SmClock, g => g.SmClockMHz, OnInstance.Parent),
        new(MetricNames.Dcgm.MemClock, g => g.MemClockMHz, OnInstance.Parent),
        new(MetricNames.Dcgm.MemoryTemp, g => g.MemoryTempCelsius, OnInstance.Parent),
        new(MetricNames.Dcgm.GpuTemp, g => g.GpuTempCelsius, OnInstance.Parent),
        new(MetricNames.Dcgm.PowerUsage, g => g.PowerWatts, OnInstance.Parent),
        new(MetricNames.Dcgm.TotalEnergyConsumption, g => g.TotalEnergyMillijoules, OnInstance.Parent),
        new(MetricNames.Dcgm.PcieReplayCounter, g => g.PcieReplays, OnInstance.Parent),
        new(MetricNames.Dcgm.GpuUtil, g => g.GpuUtilPercent, OnInstance.None),
        new(MetricNames.Dcgm.MemCopyUtil, g => g.MemCopyUtilPercent, OnInstance.None),
        new(MetricNames.Dcgm.EncUtil, g => g.EncoderUtilPercent, OnInstance.None),
        new(MetricNames.Dcgm.DecUtil, g => g.DecoderUtilPercent, OnInstance.None),
        new(MetricNames.Dcgm.XidErrors, g => g.LastXid, OnInstance.Parent),
        new(MetricNames.Dcgm.FbFree, g => g.FbFreeMiB, OnInstance.Own, i => i.FbFreeMiB),
        new(MetricNames.Dcgm.FbUsed, g => g.FbUsedMiB, OnInstance.Own, i => i.FbUsedMiB),
        new(MetricNames.Dcgm.FbReserved, g => g.FbReservedMiB, OnInstance.None),
        new(MetricNames.Dcgm.EccSbeVolatile, g => g.EccSbeVolatile, OnInstance.Parent),
        new(MetricNames.Dcgm.EccDbeVolatile, g => g.EccDbeVolatile, OnInstance.Parent),
        new(MetricNames.Dcgm.EccSbeAggregate, g => g.EccSbeAggregate, OnInstance.Parent),
        new(MetricNames.Dcgm.EccDbeAggregate, g => g.EccDbeAggregate, OnInstance.Parent),
        new(MetricNames.Dcgm.UncorrectableRemappedRows, g => g.UncorrectableRemappedRows, OnInstance.Parent),
        new(MetricNames.Dcgm.CorrectableRemappedRows, g => g.CorrectableRemappedRows, OnInstance.Parent),
        new(MetricNames.Dcgm.RowRemapFailure, g => g.RowRemapFailure is { } f ? (f ? 1 : 0) : null, OnInstance.Parent),
    ];

    private readonly MetricsOptions _options;
    private readonly Dictionary<(string Uuid, int GpuInstanceId), CachedLabels> _labelCache = [];

    public GpuCollector(MetricsOptions options)
    {
        _options = options;
    }

    /// <summary>What a GPU series shows on each MIG GPU instance of a GPU that has them.</summary>
    private enum OnInstance
    {
        /// <summary>The GPU's device-wide reading, repeated on every instance.</summary>
        Parent,

        /// <summary>The instance's own reading.</summary>
        Own,

        /// <summary>Nothing: not available per instance.</summary>
        None,
    }

    public string Name => "gpu";

    public void Collect(ScrapeContext context, ExpositionWriter writer)
    {
        GpuTelemetrySnapshot snapshot = context.Gpus;
        writer.Sample(MetricNames.Agent.NvmlUp, snapshot.NvmlUp ? 1 : 0);
        IReadOnlyList<GpuTelemetry> gpus = snapshot.Gpus;
        var labels = new LabelSet[gpus.Count][];
        lock (_labelCache)
        {
            for (int i = 0; i < gpus.Count; i++)
            {
                IReadOnlyList<MigInstanceTelemetry> instances = gpus[i].MigInstances;
                if (instances.Count == 0)
                {
                    labels[i] = [Labels(gpus[i], null, snapshot.DriverVersion)];
                    continue;
                }

                labels[i] = new LabelSet[instances.Count];
                for (int j = 0; j < instances.Count; j++)
                {
                    labels[i][j] = Labels(gpus[i], instances[j], snapshot.DriverVersion);
                }
            }
        }

        foreach (Series series in DeviceSeries)
        {
            for (int i = 0; i < gpus.Count; i++)
            {
                GpuTelemetry gpu = gpus[i];
                IReadOnlyList<MigInstanceTelemetry> instances = gpu.MigInstances;
                if (instances.Count == 0)
                {
                    Write(writer, series.Family, labels[i][0], series.Read(gpu));
                    continue;
                }

                for (int j = 0; j < instances.Count; j++)
                {
                    double? value = series.Instance switch
                    {
                        OnInstance.Parent => series.Read(gpu),
                        OnInstance.Own => series.ReadInstance!(instances[j]),
                        _ => null,
                    };
                    Write(writer, series.Family, labels[i][j], value);
                }
            }
        }
    }

    /// <summary>One sample; the XID series adds dcgm-exporter's err_code and err_msg for the value.</summary>
    private static void Write(ExpositionWriter writer, MetricFamily family, LabelSet labels, double? value)
    {
        if (value is not { } v)
        {
            return;
        }

        if (ReferenceEquals(family, MetricNames.Dcgm.XidErrors))
        {
            ulong xid = (ulong)v;
            writer.Sample(family, labels, [xid.ToString(CultureInfo.InvariantCulture), XidTable.Name(xid)], v);
        }
        else
        {
            writer.Sample(family, labels, v);
        }
    }

    /// <summary>The label set of a GPU or MIG instance, rendered once and reused while its identity stays the same.</summary>
    private LabelSet Labels(GpuTelemetry gpu, MigInstanceTelemetry? mig, string? driverVersion)
    {
        var key = (gpu.Uuid, mig?.GpuInstanceId ?? -1);
        if (_labelCache.TryGetValue(key, out CachedLabels? cached) && cached.Matches(gpu, mig, driverVersion))
        {
            return cached.Labels;
        }

        // device is "nvidia" + the GPU's index, as dcgm-exporter writes it (fmt.Sprintf("nvidia%d", DeviceInfo.GPU) in
        // internal/pkg/collector/gpu_collector.go), not the /dev/nvidiaN minor number.
        var builder = new LabelSet.Builder()
            .Add(L.Gpu, gpu.Index.ToString(CultureInfo.InvariantCulture))
            .Add(L.Uuid, gpu.Uuid)
            .Add(L.PciBusId, gpu.PciBusId)
            .Add(L.Device, "nvidia" + gpu.Index.ToString(CultureInfo.InvariantCulture))
            .Add(L.ModelName, gpu.ModelName);
        if (mig is not null)
        {
            builder.Add(L.GpuInstanceProfile, mig.Profile)
                .Add(L.GpuInstanceId, mig.GpuInstanceId.ToString(CultureInfo.InvariantCulture));
        }

        if (_options.HostnameLabel.Length > 0)
        {
            builder.Add(_options.HostnameLabel, _options.Hostname);
        }

        builder.Add(L.DriverVersion, driverVersion);
        LabelSet labels = builder.Build();
        _labelCache[key] = new CachedLabels(gpu.Index, gpu.PciBusId, gpu.ModelName, mig?.Profile, driverVersion, labels);
        return labels;
    }

    /// <summary>One GPU series: the GPU's reading, and what it shows on MIG instances.</summary>
    private sealed record Series(MetricFamily Family, Func<GpuTelemetry, double?> Read, OnInstance Instance, Func<MigInstanceTelemetry, double?>? ReadInstance = null);

    private sealed record CachedLabels(int Index, string PciBusId, string ModelName, string? Profile, string? DriverVersion, LabelSet Labels)
    {
        public bool Matches(GpuTelemetry gpu, MigInstanceTelemetry? mig, string? driverVersion) =>
            Index == gpu.Index && PciBusId == gpu.PciBusId && ModelName == gpu.ModelName &&
            Profile == mig?.Profile && DriverVersion == driverVersion;
    }
}
