namespace AiFactory.Grpc.Protocol;

/// <summary>Header names and values from the gRPC over HTTP/2 specification (doc/PROTOCOL-HTTP2.md).</summary>
public static class GrpcHeaders
{
    /// <summary>The content type of a gRPC request and response.</summary>
    public const string ContentType = "application/grpc";

    /// <summary>The status code, in trailers (or in headers for a trailers-only response).</summary>
    public const string Status = "grpc-status";

    /// <summary>The percent-encoded status message.</summary>
    public const string Message = "grpc-message";

    /// <summary>The call's deadline, relative to when the request was sent.</summary>
    public const string Timeout = "grpc-timeout";

    /// <summary>The compression applied to message frames whose compressed flag is set.</summary>
    public const string Encoding = "grpc-encoding";

    /// <summary>The compressions the peer accepts.</summary>
    public const string AcceptEncoding = "grpc-accept-encoding";

    /// <summary>The one message encoding this implementation supports.</summary>
    public const string IdentityEncoding = "identity";

    /// <summary>True when <paramref name="contentType"/> is <c>application/grpc</c> or <c>application/grpc+...</c> / <c>application/grpc;...</c>.</summary>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null || !contentType.StartsWith(ContentType, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if (contentType.Length == ContentType.Length)
        {
            return true;
        }

        char next = contentType[ContentType.Length];
        return next is '+' or ';';
    }
}
