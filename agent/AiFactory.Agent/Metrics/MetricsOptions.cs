using AiFactory.Agent.Configuration;
using L = AiFactory.Agent.Metrics.MetricNames.Labels;

namespace AiFactory.Agent.Metrics;

/// <summary>Settings of the metrics endpoint, from the agent's settings (<c>metrics-hostname-label</c>, <c>metrics-hostname</c>).</summary>
internal sealed record MetricsOptions
{
    /// <summary>
    /// The label keys a hostname label may not take: those already on GPU series (dcgm-exporter's, including the
    /// <c>err_code</c>/<c>err_msg</c> of its XID series), which would give a series the same key twice and make
    /// Prometheus reject the whole scrape, and <c>le</c>, which histograms own.
    /// </summary>
    public static readonly IReadOnlyList<string> ReservedLabelKeys =
    [
        L.Gpu, L.Uuid, L.PciBusId, L.Device, L.ModelName, L.GpuInstanceProfile, L.GpuInstanceId, L.DriverVersion,
        "err_code", "err_msg", "le",
    ];

    /// <summary>
    /// The value of the Hostname label on GPU series: the kernel's whole node name (gethostname, as dcgm-exporter's
    /// Go os.Hostname), not <see cref="Environment.MachineName"/>, which stops at the first dot.
    /// </summary>
    public string Hostname { get; init; } = Host.Hardware.Uts.NodeName.Read();

    /// <summary>The key of the hostname label on GPU series; "Hostname" like dcgm-exporter. Empty to leave it out.</summary>
    public string HostnameLabel { get; init; } = MetricNames.Labels.DefaultHostname;

    /// <summary>The metrics settings within the agent's (already validated by the options loader).</summary>
    public static MetricsOptions From(AgentOptions options) => new()
    {
        HostnameLabel = options.MetricsHostnameLabel,
        Hostname = options.MetricsHostname ?? Host.Hardware.Uts.NodeName.Read(),
    };

    /// <summary>
    /// Why <paramref name="label"/> cannot be the hostname label's key, or null when it can: a Prometheus label
    /// name (<c>[a-zA-Z_][a-zA-Z0-9_]*</c>), not starting with <c>__</c> (reserved for Prometheus' own), and none
    /// of <see cref="ReservedLabelKeys"/>. Empty is allowed: no hostname label.
    /// </summary>
    public static string? HostnameLabelProblem(string label)
    {
        if (label.Length == 0)
        {
            return null;
        }

        if (label.StartsWith("__", StringComparison.Ordinal))
        {
            return "label names starting with __ are reserved for Prometheus";
        }

        if (!Exposition.MetricFamily.IsValidLabelKey(label))
        {
            return "not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*; empty for no hostname label)";
        }

        if (ReservedLabelKeys.Contains(label, StringComparer.Ordinal))
        {
            return label == "le"
                ? $"\"le\" is the bucket label of the histogram series ({MetricNames.Agent.RpcDuration.Name}, " +
                  $"{MetricNames.Agent.ProfileApplyDuration.Name}, {MetricNames.Agent.DiscoveryDuration.Name}); not a hostname label"
                : $"GPU series already carry the label \"{label}\" (taken: {string.Join(", ", ReservedLabelKeys)})";
        }

        return null;
    }
}
