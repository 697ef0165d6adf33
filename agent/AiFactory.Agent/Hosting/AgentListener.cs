namespace AiFactory.Agent.Hosting;

/// <summary>The daemon's kinds of listener; each connection is tagged with the one it came in on.</summary>
internal enum AgentListener
{
    /// <summary>The Unix socket and the <c>--listen</c> TCP listener (TLS): gRPC only.</summary>
    Grpc,

    /// <summary>The <c>--metrics-listen</c> listener (plain HTTP/1.1, no authentication): <c>/metrics</c> only.</summary>
    Metrics,
}
