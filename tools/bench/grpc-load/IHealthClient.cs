namespace GrpcLoad;

/// <summary>
/// A client that makes <c>grpc.health.v1.Health/Check</c> calls for the load modes: the project's
/// <see cref="ChannelHealthClient"/> (GrpcChannel on SocketsHttpHandler) or the lean <see cref="RawHealthClient"/>
/// (HTTP/2 written by hand on a socket).
/// </summary>
internal interface IHealthClient : IDisposable
{
    /// <summary>Extra fields for the result line ("" for the channel client, whose line stays as it was).</summary>
    string LineFields { get; }

    /// <summary>The first failed call's reason, or null when none failed.</summary>
    string? FirstError { get; }

    /// <summary>The number of failed calls so far, warm-up included.</summary>
    int ErrorCount { get; }

    /// <summary>
    /// Starts one call on the calling thread and calls <see cref="ICallSink.Completed"/> exactly once when it ends,
    /// on whatever thread saw the answer. A call that fails before it is sent completes on the thread pool, never
    /// inside this method, so a sink that starts the next call from its callback cannot recurse without bound.
    /// </summary>
    void Start(ICallSink sink);
}
