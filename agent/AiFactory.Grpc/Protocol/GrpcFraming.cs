using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;

namespace AiFactory.Grpc.Protocol;

/// <summary>
/// The length-prefixed message frame: 1 byte compressed flag, 4 bytes big-endian length, then the payload.
/// </summary>
public static class GrpcFraming
{
    /// <summary>The size of the frame header.</summary>
    public const int HeaderSize = 5;

    /// <summary>The default limit on a message's size, in both directions (4 MiB, as in every gRPC implementation).</summary>
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;

    /// <summary>
    /// Tries to take one whole frame from the front of <paramref name="buffer"/>. Returns false when more bytes are
    /// needed. Throws <see cref="RpcException"/> (RESOURCE_EXHAUSTED) as soon as the header announces a payload
    /// over <paramref name="maxMessageSize"/>, before any of it is buffered, and (UNIMPLEMENTED) for a compressed frame.
    /// </summary>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxMessageSize, out ReadOnlySequence<byte> payload)
    {
        payload = default;
        if (buffer.Length < HeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        byte flag = header[0];
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (flag == 1)
        {
            throw new RpcException(StatusCode.Unimplemented, "Compressed messages are not supported: this peer accepts only the 'identity' encoding.");
        }

        if (flag > 1)
        {
            throw new RpcException(StatusCode.Internal, $"Invalid message frame: compressed flag is {flag}, expected 0 or 1.");
        }

        if (length > (uint)maxMessageSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted, $"Received message larger than max ({length} vs. {maxMessageSize}).");
        }

        if (buffer.Length - HeaderSize < length)
        {
            return false;
        }

        payload = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(payload.End);
        return true;
    }

    /// <summary>Writes <paramref name="message"/> as one uncompressed frame; RESOURCE_EXHAUSTED when it is over <paramref name="maxMessageSize"/>.</summary>
    public static void WriteFrame(IBufferWriter<byte> writer, IMessage message, int maxMessageSize)
    {
        int size = message.CalculateSize();
        if (size > maxMessageSize)
        {
            throw new RpcException(StatusCode.ResourceExhausted, $"Sending message larger than max ({size} vs. {maxMessageSize}).");
        }

        Span<byte> header = writer.GetSpan(HeaderSize);
        header[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)size);
        writer.Advance(HeaderSize);
        if (size > 0)
        {
            Span<byte> body = writer.GetSpan(size)[..size];
            message.WriteTo(body);
            writer.Advance(size);
        }
    }
}
