using System.Globalization;
using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Agent.Metrics.Sources;
using L = AiFactory.Agent.Metrics.MetricNames.Labels;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>
/// dcgm-exporter's GPU series from NVML readings, with its label keys in its order: gpu, UUID, pci_bus_id,
/// device, modelName, GPU_I_PROFILE and GPU_I_ID on MIG instances, Hostname, DCGM_FI_DRIVER_VERSION.
/// MIG instances carry their parent's labels plus the two GPU_I_ ones, and only the memory series.
/// </summary>
internal sealed class GpuCollector : IMetricsCollector
{
    private static readonly (MetricFamily Family, Func<GpuTelemetry, double?> Read)[] DeviceSeries =
    [
        (MetricNames.Dcgm.SmClock, g => g.SmClockMHz),
        (MetricNames.Dcgm.MemClock, g => g.MemClockMHz),
        (MetricNames.Dcgm.MemoryTemp, g => g.MemoryTempCelsius),
        (MetricNames.Dcgm.GpuTemp, g => g.GpuTempCelsius),
        (MetricNames.Dcgm.PowerUsage, g => g.PowerWatts),
        (MetricNames.Dcgm.TotalEnergyConsumption, g => g.TotalEnergyMillijoules),
        (MetricNames.Dcgm.PcieReplayCounter, g => g.PcieReplays),
        (MetricNames.Dcgm.GpuUtil, g => g.GpuUtilPercent),
        (MetricNames.Dcgm.MemCopyUtil, g => g.MemCopyUtilPercent),
        (MetricNames.Dcgm.EncUtil, g => g.EncoderUtilPercent),
        (MetricNames.Dcgm.DecUtil, g => g.DecoderUtilPercent),
        (MetricNames.Dcgm.XidErrors, g => g.LastXid),
        (MetricNames.Dcgm.FbFree, g => g.FbFreeMiB),
        (MetricNames.Dcgm.FbUsed, g => g.FbUsedMiB),
        (MetricNames.Dcgm.FbReserved, g => g.FbReservedMiB),
        (MetricNames.Dcgm.EccSbeVolatile, g => g.EccSbeVolatile),
        (MetricNames.Dcgm.EccDbeVolatile, g => g.EccDbeVolatile),
        (MetricNames.Dcgm.EccSbeAggregate, g => g.EccSbeAggregate),
        (MetricNames.Dcgm.EccDbeAggregate, g => g.EccDbeAggregate),
        (MetricNames.Dcgm.UncorrectableRemappedRows, g => g.UncorrectableRemappedRows),
        (MetricNames.Dcgm.CorrectableRemappedRows, g => g.CorrectableRemappedRows),
        (MetricNames.Dcgm.RowRemapFailure, g => g.RowRemapFailure is { } f ? (f ? 1 : 0) : null),
    ];

    private readonly MetricsOptions _options;
    private readonly Dictionary<(string Uuid, int GpuInstanceId), CachedLabels> _labelCache = [];

    public GpuCollector(MetricsOptions options)
    {
        _options = options;
    }

    public string Name => "gpu";

    public void Collect(ScrapeContext context, ExpositionWriter writer)
    {
        GpuTelemetrySnapshot snapshot = context.Gpus;
        IReadOnlyList<GpuTelemetry> gpus = snapshot.Gpus;
        var labels = new LabelSet[gpus.Count];
        var migLabels = new LabelSet[gpus.Count][];
        lock (_labelCache)
        {
            for (int i = 0; i < gpus.Count; i++)
            {
                labels[i] = Labels(gpus[i], null, snapshot.DriverVersion);
                IReadOnlyList<MigInstanceTelemetry> instances = gpus[i].MigInstances;
                migLabels[i] = new LabelSet[instances.Count];
                for (int j = 0; j < instances.Count; j++)
                {
                    migLabels[i][j] = Labels(gpus[i], instances[j], snapshot.DriverVersion);
                }
            }
        }

        foreach ((MetricFamily family, Func<GpuTelemetry, double?> read) in DeviceSeries)
        {
            for (int i = 0; i < gpus.Count; i++)
            {
                if (read(gpus[i]) is { } value)
                {
                    writer.Sample(family, labels[i], value);
                }

                if (ReferenceEquals(family, MetricNames.Dcgm.FbFree) || ReferenceEquals(family, MetricNames.Dcgm.FbUsed))
                {
                    bool used = ReferenceEquals(family, MetricNames.Dcgm.FbUsed);
                    IReadOnlyList<MigInstanceTelemetry> instances = gpus[i].MigInstances;
                    for (int j = 0; j < instances.Count; j++)
                    {
                        if ((used ? instances[j].FbUsedMiB : instances[j].FbFreeMiB) is { } v)
                        {
                            writer.Sample(family, migLabels[i][j], v);
                        }
                    }
                }
            }
        }
    }

    /// <summary>The label set of a GPU or MIG instance, rendered once and reused while its identity stays the same.</summary>
    private LabelSet Labels(GpuTelemetry gpu, MigInstanceTelemetry? mig, string? driverVersion)
    {
        var key = (gpu.Uuid, mig?.GpuInstanceId ?? -1);
        if (_labelCache.TryGetValue(key, out CachedLabels? cached) && cached.Matches(gpu, mig, driverVersion, _options))
        {
            return cached.Labels;
        }

        var builder = new LabelSet.Builder()
            .Add(L.Gpu, gpu.Index.ToString(CultureInfo.InvariantCulture))
            .Add(L.Uuid, gpu.Uuid)
            .Add(L.PciBusId, gpu.PciBusId)
            .Add(L.Device, "nvidia" + (gpu.MinorNumber ?? gpu.Index).ToString(CultureInfo.InvariantCulture))
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
        _labelCache[key] = new CachedLabels(gpu.Index, gpu.MinorNumber, gpu.PciBusId, gpu.ModelName, mig?.Profile, driverVersion, labels);
        return labels;
    }

    private sealed record CachedLabels(int Index, int? Minor, string PciBusId, string ModelName, string? Profile, string? DriverVersion, LabelSet Labels)
    {
        public bool Matches(GpuTelemetry gpu, MigInstanceTelemetry? mig, string? driverVersion, MetricsOptions _) =>
            Index == gpu.Index && Minor == gpu.MinorNumber && PciBusId == gpu.PciBusId && ModelName == gpu.ModelName &&
            Profile == mig?.Profile && DriverVersion == driverVersion;
    }
}
