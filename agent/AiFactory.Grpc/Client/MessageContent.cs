using System.Net;
using System.Net.Http.Headers;
using AiFactory.Grpc.Protocol;
using Google.Protobuf;

namespace AiFactory.Grpc.Client;

/// <summary>A request body of exactly one framed message.</summary>
internal sealed class MessageContent : HttpContent
{
    private static readonly MediaTypeHeaderValue GrpcMediaType = new(GrpcHeaders.ContentType);
    private readonly byte[] _frame;

    public MessageContent(IMessage message, int maxMessageSize)
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>(GrpcFraming.HeaderSize + message.CalculateSize());
        GrpcFraming.WriteFrame(writer, message, maxMessageSize);
        _frame = writer.WrittenSpan.ToArray();
        Headers.ContentType = GrpcMediaType;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        stream.WriteAsync(_frame).AsTask();

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        stream.WriteAsync(_frame, cancellationToken).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = _frame.Length;
        return true;
    }
}
