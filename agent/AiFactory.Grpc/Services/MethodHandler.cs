using System.Buffers;
using Google.Protobuf;

namespace AiFactory.Grpc.Services;

/// <summary>One method of a service: how to read its requests, and the product code that answers them.</summary>
public abstract class MethodHandler
{
    private protected MethodHandler(string name, MethodType type)
    {
        Name = name;
        Type = type;
    }

    /// <summary>The method name, without the service.</summary>
    public string Name { get; }

    /// <summary>The call shape.</summary>
    public MethodType Type { get; }

    /// <summary>Runs the call to its end. A non-OK outcome is thrown as <see cref="RpcException"/>.</summary>
    public abstract Task InvokeAsync(IServerCallStream stream, ServerCallContext context);

    private protected static TRequest Parse<TRequest>(MessageParser<TRequest> parser, ReadOnlySequence<byte> payload)
        where TRequest : IMessage<TRequest>
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new RpcException(StatusCode.Internal, "Failed to deserialize the request message: " + ex.Message, ex);
        }
    }

    private protected static async ValueTask<TRequest> ReadSingleAsync<TRequest>(IServerCallStream stream, MessageParser<TRequest> parser, CancellationToken ct)
        where TRequest : IMessage<TRequest>
    {
        ReadOnlySequence<byte>? first = await stream.ReadMessageAsync(ct).ConfigureAwait(false)
            ?? throw new RpcException(StatusCode.Internal, "The request did not include a message.");
        TRequest request = Parse(parser, first.Value);
        if (await stream.ReadMessageAsync(ct).ConfigureAwait(false) is not null)
        {
            throw new RpcException(StatusCode.Internal, "The request included more than one message for a method that takes one.");
        }

        return request;
    }
}

internal sealed class UnaryMethodHandler<TRequest, TResponse> : MethodHandler
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    private readonly MessageParser<TRequest> _parser;
    private readonly Func<TRequest, ServerCallContext, Task<TResponse>> _handler;

    public UnaryMethodHandler(string name, MessageParser<TRequest> parser, Func<TRequest, ServerCallContext, Task<TResponse>> handler)
        : base(name, MethodType.Unary)
    {
        _parser = parser;
        _handler = handler;
    }

    public override async Task InvokeAsync(IServerCallStream stream, ServerCallContext context)
    {
        TRequest request = await ReadSingleAsync(stream, _parser, context.CancellationToken).ConfigureAwait(false);
        TResponse response = await _handler(request, context).ConfigureAwait(false);
        await stream.WriteMessageAsync(response, context.CancellationToken).ConfigureAwait(false);
    }
}

internal sealed class ServerStreamingMethodHandler<TRequest, TResponse> : MethodHandler
    where TRequest : IMessage<TRequest>
    where TResponse : IMessage<TResponse>
{
    private readonly MessageParser<TRequest> _parser;
    private readonly Func<TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> _handler;

    public ServerStreamingMethodHandler(string name, MessageParser<TRequest> parser, Func<TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
        : base(name, MethodType.ServerStreaming)
    {
        _parser = parser;
        _handler = handler;
    }

    public override async Task InvokeAsync(IServerCallStream stream, ServerCallContext context)
    {
        TRequest request = await ReadSingleAsync(stream, _parser, context.CancellationToken).ConfigureAwait(false);
        await _handler(request, new StreamWriter(stream), context).ConfigureAwait(false);
    }

    private sealed class StreamWriter(IServerCallStream stream) : IServerStreamWriter<TResponse>
    {
        public Task WriteAsync(TResponse message, CancellationToken cancellationToken = default) =>
            stream.WriteMessageAsync(message, cancellationToken).AsTask();
    }
}
