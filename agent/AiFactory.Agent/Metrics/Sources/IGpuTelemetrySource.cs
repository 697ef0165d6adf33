namespace AiFactory.Agent.Metrics.Sources;

/// <summary>Reads GPU telemetry for one scrape (NVML in the daemon, literal snapshots in tests).</summary>
internal interface IGpuTelemetrySource
{
    /// <summary>The readings now. Throwing marks the GPU collector failed for this scrape.</summary>
    GpuTelemetrySnapshot Read();
}
