namespace AiFactory.Grpc.Services;

/// <summary>
/// What a handler knows about the call it serves: cancellation (client gone or deadline passed), the deadline,
/// the request headers and who the peer is. Shaped like Grpc.Core's ServerCallContext so handlers move over unchanged.
/// </summary>
public sealed class ServerCallContext
{
    /// <summary>Creates a context; the transport builds these, handlers only read them.</summary>
    public ServerCallContext(string method, DateTime deadline, IReadOnlyDictionary<string, string> requestHeaders, string peer, AuthContext authContext, CancellationToken cancellationToken)
    {
        Method = method;
        Deadline = deadline;
        RequestHeaders = requestHeaders;
        Peer = peer;
        AuthContext = authContext;
        CancellationToken = cancellationToken;
    }

    /// <summary>The full method name, <c>/package.Service/Method</c>.</summary>
    public string Method { get; }

    /// <summary>The call's deadline in UTC; <see cref="DateTime.MaxValue"/> when the client set none.</summary>
    public DateTime Deadline { get; }

    /// <summary>Request headers (lower-case names), pseudo-headers and gRPC reserved headers left out.</summary>
    public IReadOnlyDictionary<string, string> RequestHeaders { get; }

    /// <summary>Who called: "unix:" for the local socket, "ipv4:addr:port" / "ipv6:[addr]:port" for TCP.</summary>
    public string Peer { get; }

    /// <summary>How the call arrived and, over TLS with a validated client certificate, who sent it.</summary>
    public AuthContext AuthContext { get; }

    /// <summary>Cancelled when the client cancels, the connection drops or the deadline passes.</summary>
    public CancellationToken CancellationToken { get; }
}
