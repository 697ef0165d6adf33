using AiFactory.Grpc.Protocol;

namespace AiFactory.Grpc.Server;

/// <summary>Limits and hooks of the gRPC server.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>The largest request message accepted; larger ones end the call with RESOURCE_EXHAUSTED. Default 4 MiB.</summary>
    public int MaxReceiveMessageSize { get; set; } = GrpcFraming.DefaultMaxMessageSize;

    /// <summary>The largest response message sent; larger ones end the call with RESOURCE_EXHAUSTED. Default 4 MiB.</summary>
    public int MaxSendMessageSize { get; set; } = GrpcFraming.DefaultMaxMessageSize;

    /// <summary>
    /// Called once per finished gRPC call (every request with a gRPC content type, unknown methods included) with
    /// the full method name (<see cref="GrpcServer.UnknownMethod"/> for a path no service serves, so the names are
    /// a fixed set), the status and the duration (metrics, logs). Runs on the request's thread: keep it cheap.
    /// </summary>
    public Action<string, StatusCode, TimeSpan>? CallCompleted { get; set; }
}
