using Google.Protobuf;

namespace AiFactory.Grpc.Services;

/// <summary>A service (<c>package.Service</c>) and its methods, built once at start-up and served by name.</summary>
public sealed class ServiceDefinition
{
    private ServiceDefinition(string name, IReadOnlyDictionary<string, MethodHandler> methods)
    {
        Name = name;
        Methods = methods;
    }

    /// <summary>The fully qualified service name, e.g. <c>grpc.health.v1.Health</c>.</summary>
    public string Name { get; }

    /// <summary>The methods by name.</summary>
    public IReadOnlyDictionary<string, MethodHandler> Methods { get; }

    /// <summary>Starts a definition for <paramref name="serviceName"/>.</summary>
    public static Builder CreateBuilder(string serviceName) => new(serviceName);

    /// <summary>Collects the methods of one service.</summary>
    public sealed class Builder
    {
        private readonly string _name;
        private readonly Dictionary<string, MethodHandler> _methods = new(StringComparer.Ordinal);

        internal Builder(string name)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(name);
            _name = name;
        }

        /// <summary>Adds a unary method.</summary>
        public Builder AddUnary<TRequest, TResponse>(string method, MessageParser<TRequest> parser, Func<TRequest, ServerCallContext, Task<TResponse>> handler)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
        {
            _methods.Add(method, new UnaryMethodHandler<TRequest, TResponse>(method, parser, handler));
            return this;
        }

        /// <summary>Adds a server-streaming method.</summary>
        public Builder AddServerStreaming<TRequest, TResponse>(string method, MessageParser<TRequest> parser, Func<TRequest, IServerStreamWriter<TResponse>, ServerCallContext, Task> handler)
            where TRequest : IMessage<TRequest>
            where TResponse : IMessage<TResponse>
        {
            _methods.Add(method, new ServerStreamingMethodHandler<TRequest, TResponse>(method, parser, handler));
            return this;
        }

        /// <summary>Freezes the definition.</summary>
        public ServiceDefinition Build() => new(_name, new Dictionary<string, MethodHandler>(_methods, StringComparer.Ordinal));
    }
}
