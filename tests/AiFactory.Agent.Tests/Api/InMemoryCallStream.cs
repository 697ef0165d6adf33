using System.Buffers;
using System.Threading.Channels;
using AiFactory.Grpc.Services;
using Google.Protobuf;

namespace AiFactory.Agent.Tests.Api;

/// <summary>One call without a network: the request message in, the response messages out through a channel.</summary>
internal sealed class InMemoryCallStream<TResponse>(IMessage request, MessageParser<TResponse> parser) : IServerCallStream
    where TResponse : IMessage<TResponse>
{
    private bool _read;

    public Channel<TResponse> Responses { get; } = Channel.CreateUnbounded<TResponse>();

    public ValueTask<ReadOnlySequence<byte>?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        if (_read)
        {
            return ValueTask.FromResult<ReadOnlySequence<byte>?>(null);
        }

        _read = true;
        return ValueTask.FromResult<ReadOnlySequence<byte>?>(new ReadOnlySequence<byte>(request.ToByteArray()));
    }

    public ValueTask WriteMessageAsync(IMessage message, CancellationToken cancellationToken)
    {
        Responses.Writer.TryWrite(parser.ParseFrom(message.ToByteArray()));
        return ValueTask.CompletedTask;
    }

    public static ServerCallContext Context(string method, CancellationToken ct) =>
        new(method, DateTime.MaxValue, new Dictionary<string, string>(), "unix:", AuthContext.Local, ct);
}
