namespace AiFactory.Grpc.Services;

/// <summary>Writes the messages of a server-streaming response, one frame each, in order.</summary>
/// <typeparam name="T">The response message type.</typeparam>
public interface IServerStreamWriter<in T>
{
    /// <summary>Writes one message and flushes it to the client.</summary>
    Task WriteAsync(T message, CancellationToken cancellationToken = default);
}
