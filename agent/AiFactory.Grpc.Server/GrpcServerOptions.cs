using AiFactory.Grpc.Protocol;
using AiFactory.Grpc.Services;

namespace AiFactory.Grpc.Server;

/// <summary>Limits and hooks of the gRPC server.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>The largest request message accepted; larger ones end the call with RESOURCE_EXHAUSTED. Default 4 MiB.</summary>
    public int MaxReceiveMessageSize { get; set; } = GrpcFraming.DefaultMaxMessageSize;

    /// <summary>The largest response message sent; larger ones end the call with RESOURCE_EXHAUSTED. Default 4 MiB.</summary>
    public int MaxSendMessageSize { get; set; } = GrpcFraming.DefaultMaxMessageSize;

    /// <summary>
    /// How long a unary or server-streaming call may take to receive its whole request (its one message and the end of
    /// the request stream), deadline or not; past it that call alone ends with DEADLINE_EXCEEDED and its stream is reset.
    /// Default 10 s; <see cref="Timeout.InfiniteTimeSpan"/> turns it off. Kestrel's minimum data rates would instead
    /// close the whole HTTP/2 connection, every other call on it included, so <see cref="GrpcKestrelLimits"/> turns them off.
    /// </summary>
    public TimeSpan RequestMessageTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one response message may wait to be taken by the client (HTTP/2 flow control: a client that does not
    /// read); past it only that call's stream is reset. Default 30 s; <see cref="Timeout.InfiniteTimeSpan"/> turns it off.
    /// </summary>
    public TimeSpan ResponseWriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Called once per finished gRPC call (every request with a gRPC content type, unknown methods included) with
    /// the full method name (<see cref="GrpcServer.UnknownMethod"/> for a path no service serves, so the names are
    /// a fixed set), the status and the duration (metrics, logs). Runs on the request's thread: keep it cheap.
    /// </summary>
    public Action<string, StatusCode, TimeSpan>? CallCompleted { get; set; }

    /// <summary>
    /// Decides, before the handler sees the request, whether a call may go on, from its method and
    /// <see cref="ServerCallContext.AuthContext"/>: null lets it through; an <see cref="RpcException"/> ends it with that
    /// status and message (PERMISSION_DENIED, UNAUTHENTICATED) and the handler never runs. The place of an interceptor
    /// in Grpc.AspNetCore. Null (the default) lets every call through. Runs on the request's thread: keep it cheap.
    /// </summary>
    public Func<ServerCallContext, RpcException?>? Authorize { get; set; }
}
