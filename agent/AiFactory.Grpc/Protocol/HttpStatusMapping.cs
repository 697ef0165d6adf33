namespace AiFactory.Grpc.Protocol;

/// <summary>The mapping from an HTTP status to a gRPC status, for responses that carry no grpc-status (doc/http-grpc-status-mapping.md).</summary>
public static class HttpStatusMapping
{
    /// <summary>Maps an HTTP status code to the gRPC code a client reports.</summary>
    public static StatusCode ToStatusCode(int httpStatus) => httpStatus switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };
}
