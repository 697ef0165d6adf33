namespace AiFactory.Agent.Metrics;

/// <summary>Settings of the metrics endpoint.</summary>
internal sealed record MetricsOptions
{
    /// <summary>The environment variable that renames the Hostname label (dcgm-exporter dashboards filter on "Hostname").</summary>
    public const string HostnameLabelVariable = "AIFACTORY_METRICS_HOSTNAME_LABEL";

    /// <summary>The environment variable that overrides the hostname value (e.g. the Kubernetes node name).</summary>
    public const string HostnameVariable = "AIFACTORY_METRICS_HOSTNAME";

    /// <summary>The value of the Hostname label on GPU series.</summary>
    public string Hostname { get; init; } = Environment.MachineName;

    /// <summary>The key of the hostname label on GPU series; "Hostname" like dcgm-exporter. Empty to leave it out.</summary>
    public string HostnameLabel { get; init; } = MetricNames.Labels.DefaultHostname;

    /// <summary>Defaults with the environment overrides applied.</summary>
    public static MetricsOptions FromEnvironment(Func<string, string?> getVariable)
    {
        var options = new MetricsOptions();
        if (getVariable(HostnameLabelVariable) is { } label)
        {
            if (label.Length > 0 && !Exposition.MetricFamily.IsValidLabelKey(label))
            {
                throw new ArgumentException($"{HostnameLabelVariable}=\"{label}\" is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)");
            }

            options = options with { HostnameLabel = label };
        }

        if (getVariable(HostnameVariable) is { Length: > 0 } host)
        {
            options = options with { Hostname = host };
        }

        return options;
    }
}
