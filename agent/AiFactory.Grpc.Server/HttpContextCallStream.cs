using System.Buffers;
using System.IO.Pipelines;
using AiFactory.Grpc.Protocol;
using AiFactory.Grpc.Services;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace AiFactory.Grpc.Server;

/// <summary>One call's frames over a Kestrel HTTP/2 stream.</summary>
internal sealed class HttpContextCallStream : IServerCallStream
{
    private readonly HttpContext _context;
    private readonly GrpcServerOptions _options;
    private readonly PipeReader _reader;
    private bool _requestComplete;

    public HttpContextCallStream(HttpContext context, GrpcServerOptions options)
    {
        _context = context;
        _options = options;
        _reader = context.Request.BodyReader;
    }

    /// <summary>True once the first response message has been written (headers are out: errors go in trailers).</summary>
    public bool ResponseStarted => _context.Response.HasStarted;

    public async ValueTask<ReadOnlySequence<byte>?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        if (_requestComplete)
        {
            return null;
        }

        while (true)
        {
            ReadResult result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                if (GrpcFraming.TryReadFrame(ref buffer, _options.MaxReceiveMessageSize, out ReadOnlySequence<byte> payload))
                {
                    // Copied so the pipe can move on at once; request messages are small and bounded by the limit above.
                    var copy = new ReadOnlySequence<byte>(payload.ToArray());
                    _reader.AdvanceTo(buffer.Start);
                    return copy;
                }
            }
            catch
            {
                _reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                throw;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                long left = buffer.Length;
                _reader.AdvanceTo(buffer.End);
                _requestComplete = true;
                if (left == 0)
                {
                    return null;
                }

                throw new RpcException(StatusCode.Internal, $"Incomplete message: the request stream ended {left} byte(s) into a frame.");
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public async ValueTask WriteMessageAsync(IMessage message, CancellationToken cancellationToken)
    {
        HttpResponse response = _context.Response;
        if (!response.HasStarted)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = GrpcHeaders.ContentType;
        }

        GrpcFraming.WriteFrame(response.BodyWriter, message, _options.MaxSendMessageSize);
        FlushResult flush = await response.BodyWriter.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (flush.IsCanceled || flush.IsCompleted)
        {
            throw new OperationCanceledException("The client is no longer reading the response.");
        }
    }
}
