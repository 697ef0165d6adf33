using System.Buffers;
using System.IO.Pipelines;
using AiFactory.Grpc.Protocol;
using AiFactory.Grpc.Services;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace AiFactory.Grpc.Server;

/// <summary>
/// One call's frames over a Kestrel HTTP/2 stream. Every read and write goes through a gate, so that once the
/// server has ended the call (deadline passed, client gone) a handler that carries on cannot touch the
/// <see cref="HttpContext"/> any more: its late reads and writes fail with <see cref="OperationCanceledException"/>.
/// </summary>
internal sealed class HttpContextCallStream : IServerCallStream
{
    private readonly HttpContext _context;
    private readonly GrpcServerOptions _options;
    private readonly PipeReader _reader;
    private readonly SemaphoreSlim _readGate = new(1, 1);
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly CancellationToken _callToken;
    private readonly CallTimer _timer;
    private volatile bool _closed;
    private bool _requestComplete;

    /// <summary>Creates the stream; <paramref name="callToken"/> (deadline or client gone) also ends every read and write.</summary>
    public HttpContextCallStream(HttpContext context, GrpcServerOptions options, CallTimer timer, CancellationToken callToken)
    {
        _timer = timer;
        _context = context;
        _options = options;
        _reader = context.Request.BodyReader;
        _callToken = callToken;
    }

    public async ValueTask<ReadOnlySequence<byte>?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        using CancellationTokenSource? linked = Link(ref cancellationToken);
        await _readGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            return await ReadCoreAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _readGate.Release();
        }
    }

    private async ValueTask<ReadOnlySequence<byte>?> ReadCoreAsync(CancellationToken cancellationToken)
    {
        if (_requestComplete)
        {
            return null;
        }

        while (true)
        {
            ValueTask<ReadResult> read = _reader.ReadAsync(cancellationToken);
            if (!read.IsCompleted)
            {
                _timer.RequestPending();
            }

            ReadResult result = await read.ConfigureAwait(false);
            if (result.IsCanceled)
            {
                _reader.AdvanceTo(result.Buffer.Start);
                throw new OperationCanceledException("Reading the request was cancelled.");
            }

            ReadOnlySequence<byte> buffer = result.Buffer;
            try
            {
                if (GrpcFraming.TryReadFrame(ref buffer, _options.MaxReceiveMessageSize, out ReadOnlySequence<byte> payload))
                {
                    // Copied so the pipe can move on at once; the size is bounded by the limit checked above.
                    var copy = new ReadOnlySequence<byte>(payload.ToArray());
                    _reader.AdvanceTo(buffer.Start);
                    return copy;
                }
            }
            catch
            {
                _requestComplete = true;
                _timer.RequestReceived();
                _reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                throw;
            }

            if (result.IsCompleted)
            {
                long left = buffer.Length;
                _reader.AdvanceTo(buffer.End);
                _requestComplete = true;
                _timer.RequestReceived();
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
        using CancellationTokenSource? linked = Link(ref cancellationToken);
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            HttpResponse response = _context.Response;
            if (!response.HasStarted)
            {
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = GrpcHeaders.ContentType;
            }

            GrpcFraming.WriteFrame(response.BodyWriter, message, _options.MaxSendMessageSize);
            ValueTask<FlushResult> pending = response.BodyWriter.FlushAsync(cancellationToken);
            FlushResult flush = pending.IsCompleted ? pending.Result : await WaitForClientAsync(pending).ConfigureAwait(false);
            if (flush.IsCanceled || flush.IsCompleted)
            {
                throw new OperationCanceledException("The client is no longer reading the response.");
            }
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>
    /// Waits for a flush that HTTP/2 flow control holds up (the client reads nothing) at most
    /// <see cref="GrpcServerOptions.ResponseWriteTimeout"/>, then resets this call's stream alone.
    /// </summary>
    private async ValueTask<FlushResult> WaitForClientAsync(ValueTask<FlushResult> pending)
    {
        TimeSpan limit = _options.ResponseWriteTimeout;
        if (limit == Timeout.InfiniteTimeSpan)
        {
            return await pending.ConfigureAwait(false);
        }

        Task<FlushResult> flush = pending.AsTask();
        try
        {
            return await flush.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _ = flush.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

            // RST_STREAM for this stream; the connection and its other calls carry on.
            _context.Abort();
            throw new OperationCanceledException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"The client took no response message for {limit.TotalSeconds:0.###} s; the call's stream was reset."));
        }
    }

    /// <summary>
    /// Ends the handler's use of the HTTP context: waits for a read or write in progress (the caller has cancelled
    /// the call's token first, so they return promptly) and refuses every later one. False when an operation did
    /// not give way within <paramref name="wait"/>; the caller then aborts the stream instead of answering.
    /// </summary>
    public async Task<bool> CloseAsync(TimeSpan wait)
    {
        _closed = true;
        bool read = await _readGate.WaitAsync(wait).ConfigureAwait(false);
        bool write = await _writeGate.WaitAsync(wait).ConfigureAwait(false);

        // Anything that gets a gate from now on sees _closed and gives up without touching the context.
        if (read)
        {
            _readGate.Release();
        }

        if (write)
        {
            _writeGate.Release();
        }

        return read && write;
    }

    /// <summary>
    /// Makes <paramref name="token"/> also end with the call, so that a handler passing CancellationToken.None
    /// (or its own token) cannot hold a flush open past the deadline.
    /// </summary>
    private CancellationTokenSource? Link(ref CancellationToken token)
    {
        if (token == _callToken || !token.CanBeCanceled)
        {
            token = _callToken;
            return null;
        }

        var linked = CancellationTokenSource.CreateLinkedTokenSource(token, _callToken);
        token = linked.Token;
        return linked;
    }

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw new OperationCanceledException("The call has already ended (deadline exceeded or cancelled).");
        }
    }
}
