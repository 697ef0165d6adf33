namespace GrpcLoad;

/// <summary>The response header fields the raw client checks, from one header block.</summary>
internal struct ResponseHeaderFields
{
    /// <summary>:status, or 0 when absent.</summary>
    public int Status;

    /// <summary>grpc-status, or -1 when absent or not a number.</summary>
    public int GrpcStatus;

    /// <summary>grpc-message as sent (percent-encoded), or null when absent.</summary>
    public string? GrpcMessage;

    public static ResponseHeaderFields Empty => new() { GrpcStatus = -1 };
}
