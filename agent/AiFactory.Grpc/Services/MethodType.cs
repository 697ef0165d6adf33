namespace AiFactory.Grpc.Services;

/// <summary>The call shapes this implementation serves.</summary>
public enum MethodType
{
    /// <summary>One request, one response.</summary>
    Unary,

    /// <summary>One request, a stream of responses.</summary>
    ServerStreaming,

    /// <summary>A stream of requests and a stream of responses.</summary>
    DuplexStreaming,
}
