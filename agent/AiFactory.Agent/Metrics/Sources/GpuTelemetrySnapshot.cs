namespace AiFactory.Agent.Metrics.Sources;

/// <summary>What NVML said about every GPU at one moment; the GPU collector turns it into dcgm-exporter's series.</summary>
/// <param name="DriverVersion">nvmlSystemGetDriverVersion; the DCGM_FI_DRIVER_VERSION label.</param>
/// <param name="Gpus">The GPUs NVML sees, by index (GPUs bound to vfio-pci are not among them).</param>
/// <param name="NvmlUp">Whether NVML is loaded and initialised (<c>aifactory_nvml_up</c>); false for <see cref="Empty"/>.</param>
internal sealed record GpuTelemetrySnapshot(string? DriverVersion, IReadOnlyList<GpuTelemetry> Gpus, bool NvmlUp = true)
{
    /// <summary>No NVML: no GPUs, and <c>aifactory_nvml_up</c> 0.</summary>
    public static readonly GpuTelemetrySnapshot Empty = new(null, [], NvmlUp: false);
}

/// <summary>One GPU's readings. A null reading is one NVML could not give (NOT_SUPPORTED, an error): no sample.</summary>
internal sealed record GpuTelemetry
{
    /// <summary>NVML index; the <c>gpu</c> label, and N in the <c>device</c> label nvidiaN.</summary>
    public required int Index { get; init; }

    /// <summary>nvmlDeviceGetUUID, "GPU-...".</summary>
    public required string Uuid { get; init; }

    /// <summary>nvmlDeviceGetPciInfo busId, "00000000:1B:00.0".</summary>
    public required string PciBusId { get; init; }

    /// <summary>nvmlDeviceGetName, "NVIDIA H100 80GB HBM3".</summary>
    public required string ModelName { get; init; }

    public double? GpuUtilPercent { get; init; }

    public double? MemCopyUtilPercent { get; init; }

    public double? EncoderUtilPercent { get; init; }

    public double? DecoderUtilPercent { get; init; }

    public double? FbUsedMiB { get; init; }

    public double? FbFreeMiB { get; init; }

    public double? FbReservedMiB { get; init; }

    public double? GpuTempCelsius { get; init; }

    public double? MemoryTempCelsius { get; init; }

    public double? PowerWatts { get; init; }

    public double? TotalEnergyMillijoules { get; init; }

    public double? SmClockMHz { get; init; }

    public double? MemClockMHz { get; init; }

    public double? PcieReplays { get; init; }

    /// <summary>The last XID seen (0 for none).</summary>
    public double? LastXid { get; init; }

    public double? EccSbeVolatile { get; init; }

    public double? EccDbeVolatile { get; init; }

    public double? EccSbeAggregate { get; init; }

    public double? EccDbeAggregate { get; init; }

    public double? CorrectableRemappedRows { get; init; }

    public double? UncorrectableRemappedRows { get; init; }

    public bool? RowRemapFailure { get; init; }

    /// <summary>MIG GPU instances, when MIG is on.</summary>
    public IReadOnlyList<MigInstanceTelemetry> MigInstances { get; init; } = [];
}

/// <summary>One MIG GPU instance's readings (dcgm-exporter labels it GPU_I_PROFILE/GPU_I_ID under its parent).</summary>
/// <param name="GpuInstanceId">The GPU instance id (GPU_I_ID).</param>
/// <param name="Profile">The profile name, "1g.10gb" (GPU_I_PROFILE).</param>
/// <param name="FbUsedMiB">
/// Memory used in the instance: an estimate, the sum of the memory NVML reports for the compute processes running in
/// it (nvmlDeviceGetComputeRunningProcesses by GPU instance id); memory the driver holds for the instance itself is
/// not in it, where DCGM reads the instance's framebuffer.
/// </param>
/// <param name="FbFreeMiB">Memory free in the instance: an estimate, the profile's memory size less <paramref name="FbUsedMiB"/>.</param>
internal sealed record MigInstanceTelemetry(int GpuInstanceId, string Profile, double? FbUsedMiB, double? FbFreeMiB);
