using AiFactory.Agent.Metrics.Exposition;
using AiFactory.Grpc;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>The agent itself: build info, gRPC call durations, profile applies, drift, discovery runs, NVML errors.</summary>
internal sealed class AgentCollector : IMetricsCollector
{
    private readonly AgentMetrics _metrics;
    private readonly LabelSet _buildInfo;

    public AgentCollector(AgentMetrics metrics, string version, string commit, string runtime)
    {
        _metrics = metrics;
        _buildInfo = LabelSet.Create(
            [MetricNames.Labels.Version, MetricNames.Labels.Commit, MetricNames.Labels.Runtime], [version, commit, runtime]);
    }

    public string Name => "agent";

    public void Collect(ScrapeContext context, ExpositionWriter writer)
    {
        writer.Sample(MetricNames.Agent.BuildInfo, _buildInfo, 1);

        foreach (((string method, StatusCode code), Histogram h) in _metrics.Rpc())
        {
            writer.Histogram(MetricNames.Agent.RpcDuration,
                LabelSet.Create([MetricNames.Labels.Method, MetricNames.Labels.Code], [method, CodeName(code)]), h.Snapshot());
        }

        foreach ((string outcome, Histogram h) in _metrics.ProfileApply())
        {
            writer.Histogram(MetricNames.Agent.ProfileApplyDuration, LabelSet.Create([MetricNames.Labels.Outcome], [outcome]), h.Snapshot());
        }

        foreach ((string outcome, long count) in _metrics.ProfileOutcomes())
        {
            writer.Sample(MetricNames.Agent.ProfileApplies, [outcome], count);
        }

        foreach ((string kind, long count) in _metrics.Drift())
        {
            writer.Sample(MetricNames.Agent.DriftDetected, [kind], count);
        }

        foreach ((string outcome, Histogram h) in _metrics.Discovery())
        {
            writer.Histogram(MetricNames.Agent.DiscoveryDuration, LabelSet.Create([MetricNames.Labels.Outcome], [outcome]), h.Snapshot());
        }

        foreach (((string function, string code), long count) in _metrics.NvmlErrors())
        {
            writer.Sample(MetricNames.Agent.NvmlErrors, [function, code], count);
        }
    }

    /// <summary>The gRPC code name as grpc-go and grpc-dotnet print it (OK, NOT_FOUND, ...).</summary>
    public static string CodeName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "CANCELLED",
        StatusCode.Unknown => "UNKNOWN",
        StatusCode.InvalidArgument => "INVALID_ARGUMENT",
        StatusCode.DeadlineExceeded => "DEADLINE_EXCEEDED",
        StatusCode.NotFound => "NOT_FOUND",
        StatusCode.AlreadyExists => "ALREADY_EXISTS",
        StatusCode.PermissionDenied => "PERMISSION_DENIED",
        StatusCode.ResourceExhausted => "RESOURCE_EXHAUSTED",
        StatusCode.FailedPrecondition => "FAILED_PRECONDITION",
        StatusCode.Aborted => "ABORTED",
        StatusCode.OutOfRange => "OUT_OF_RANGE",
        StatusCode.Unimplemented => "UNIMPLEMENTED",
        StatusCode.Internal => "INTERNAL",
        StatusCode.Unavailable => "UNAVAILABLE",
        StatusCode.DataLoss => "DATA_LOSS",
        StatusCode.Unauthenticated => "UNAUTHENTICATED",
        _ => ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
