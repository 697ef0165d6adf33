namespace AiFactory.Grpc;

/// <summary>
/// A call that ended with a non-OK status. Handlers throw it to answer with that status; the client throws it
/// when the server answered with one. The message travels in <c>grpc-message</c>.
/// </summary>
public sealed class RpcException : Exception
{
    /// <summary>Creates an exception carrying <paramref name="statusCode"/> and <paramref name="detail"/>.</summary>
    public RpcException(StatusCode statusCode, string detail)
        : base($"Status(StatusCode=\"{statusCode}\", Detail=\"{detail}\")")
    {
        StatusCode = statusCode;
        Detail = detail;
    }

    /// <summary>Creates an exception carrying <paramref name="statusCode"/> and <paramref name="detail"/>, caused by <paramref name="inner"/>.</summary>
    public RpcException(StatusCode statusCode, string detail, Exception inner)
        : base($"Status(StatusCode=\"{statusCode}\", Detail=\"{detail}\")", inner)
    {
        StatusCode = statusCode;
        Detail = detail;
    }

    /// <summary>The status code.</summary>
    public StatusCode StatusCode { get; }

    /// <summary>The human-readable message (already percent-decoded).</summary>
    public string Detail { get; }
}
