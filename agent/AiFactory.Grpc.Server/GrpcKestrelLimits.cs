using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AiFactory.Grpc.Server;

/// <summary>
/// The Kestrel connection limits a gRPC endpoint on a host daemon wants. The daemon is called by a few local
/// clients (CLI, node controller, Prometheus) and must stay up when something opens many connections and
/// then does nothing, so idle connections are closed early rather than counted against a hard cap.
/// </summary>
public sealed class GrpcKestrelLimits
{
    /// <summary>
    /// Concurrent HTTP/2 streams (calls) per connection. 100 is what grpc-go and grpc-dotnet advertise; Kestrel
    /// refuses stream 101 with REFUSED_STREAM and the client retries it on another connection.
    /// </summary>
    public int MaxStreamsPerConnection { get; set; } = 100;

    /// <summary>
    /// How long a connection may sit with no call in flight before it is closed (Kestrel's default is 130 s). A
    /// client that wants a long-lived connection sends HTTP/2 PINGs, which grpc-js and SocketsHttpHandler do.
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a new connection may take to bring its first request (the HTTP/2 preface and a request's headers),
    /// and a request its headers (Kestrel's default is 30 s). Connections that never speak are what a stray or
    /// hostile client leaves behind: 10 s bounds them. Kestrel itself applies this only once a request has begun (before
    /// that only <see cref="KeepAliveTimeout"/> runs), so <see cref="ApplyTo"/> adds <see cref="FirstRequestTimeout"/>
    /// to every endpoint for the wait before the first request.
    /// </summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The most connections served at once; null (the default) for no cap. With the two timeouts above, idle
    /// connections are cleared within seconds, so a cap would mostly lock out legitimate callers.
    /// </summary>
    public long? MaxConcurrentConnections { get; set; }

    /// <summary>
    /// The largest request header block (Kestrel's default is 32 KiB; gRPC metadata is small, but grpc-go
    /// allows 16 KiB and more): kept at the default.
    /// </summary>
    public int MaxRequestHeadersTotalSize { get; set; } = 32 * 1024;

    /// <summary>Applies these limits to <paramref name="kestrel"/>.</summary>
    public void ApplyTo(KestrelServerOptions kestrel)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        kestrel.AddServerHeader = false;
        kestrel.Limits.Http2.MaxStreamsPerConnection = MaxStreamsPerConnection;
        kestrel.Limits.KeepAliveTimeout = KeepAliveTimeout;
        kestrel.Limits.RequestHeadersTimeout = RequestHeadersTimeout;
        kestrel.Limits.MaxConcurrentConnections = MaxConcurrentConnections;
        kestrel.Limits.MaxRequestHeadersTotalSize = MaxRequestHeadersTotalSize;

        // Kestrel applies its minimum data rates to an HTTP/2 connection as a whole: one stalled call (a request that
        // never ends, a response nobody reads) closes the connection without GOAWAY, and every call on it dies. Each
        // call is bounded by itself instead (GrpcServerOptions.RequestMessageTimeout and ResponseWriteTimeout).
        kestrel.Limits.MinRequestBodyDataRate = null;
        kestrel.Limits.MinResponseDataRate = null;

        // Runs for every endpoint configured after this call (Listen, ListenUnixSocket).
        TimeSpan firstRequest = RequestHeadersTimeout;
        kestrel.ConfigureEndpointDefaults(listen => FirstRequestTimeout.Use(listen, firstRequest));
    }
}
