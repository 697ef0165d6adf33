using AiFactory.Agent.Configuration;
using AiFactory.Agent.Metrics;
using AiFactory.Host.Hardware.Nvml;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// The agent's NVML: opened once at start from <c>--nvml-library</c>. Absent (with the reason) on a host without the
/// driver or whose GPUs are all bound to vfio-pci; every other feature keeps working.
/// </summary>
internal sealed class GpuNvml : IDisposable
{
    public GpuNvml(AgentOptions options, HostCapabilities capabilities, AgentMetrics metrics)
        : this(options.NvmlLibrary, options.SysfsRoot, capabilities, metrics)
    {
    }

    /// <param name="library">The libnvidia-ml to load.</param>
    /// <param name="sysfsRoot">The sysfs root (GPU resets).</param>
    /// <param name="capabilities">Where to report whether NVML is there.</param>
    /// <param name="metrics">When given, every NVML error is counted there (<see cref="MeteredNvml"/>), whoever calls.</param>
    internal GpuNvml(string library, string sysfsRoot, HostCapabilities? capabilities = null, AgentMetrics? metrics = null)
    {
        Library = library;
        SysfsRoot = sysfsRoot;
        INvml? nvml = NvmlLibrary.Open(library, out string? error);
        Nvml = nvml is not null && metrics is not null ? new MeteredNvml(nvml, metrics) : nvml;
        Error = error;
        capabilities?.Add(new HostCapability("nvml", Nvml is not null, error ?? string.Empty));
    }

    public string Library { get; }

    public string SysfsRoot { get; }

    public INvml? Nvml { get; }

    public string? Error { get; }

    /// <summary>Ends this NVML session (nvmlShutdown).</summary>
    public void Dispose() => (Nvml as IDisposable)?.Dispose();

    /// <summary>NVML, or an exception carrying why it is missing.</summary>
    public INvml Require() => Nvml ?? throw new InvalidOperationException($"NVML is not available: {Error}");
}
