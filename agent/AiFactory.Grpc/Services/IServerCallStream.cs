using System.Buffers;
using Google.Protobuf;

namespace AiFactory.Grpc.Services;

/// <summary>
/// The transport's side of one call, as a method handler sees it: request frames in, response messages out.
/// Implemented by the server (Kestrel) and by in-memory test transports.
/// </summary>
public interface IServerCallStream
{
    /// <summary>
    /// Reads the next request message's payload; null at the end of the request stream.
    /// Throws <see cref="RpcException"/> for a frame over the size limit, a compressed frame or a truncated stream.
    /// The returned buffer is valid until the next call.
    /// </summary>
    ValueTask<ReadOnlySequence<byte>?> ReadMessageAsync(CancellationToken cancellationToken);

    /// <summary>Writes one response message as a frame and flushes it.</summary>
    ValueTask WriteMessageAsync(IMessage message, CancellationToken cancellationToken);
}
