using AiFactory.Grpc;
using AiFactory.Grpc.Protocol;
using AiFactory.Grpc.Services;
using Grpc.Health.V1;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace AiFactory.Agent.Api;

/// <summary>
/// The standard <c>grpc.health.v1.Health</c> service. The empty service name is the whole agent; each served
/// service is known by its full name. Watch streams the current status and every change until the caller leaves.
/// </summary>
internal sealed class HealthService
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ServingStatus> _statuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<bool>> _probes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();
    private event Action<string, ServingStatus>? Changed;

    public HealthService()
    {
        _statuses[string.Empty] = ServingStatus.Serving;
    }

    /// <summary>Marks each served service SERVING (called once the server knows its services).</summary>
    public void AddServices(IEnumerable<string> services)
    {
        foreach (string service in services)
        {
            SetStatus(service, ServingStatus.Serving);
        }
    }

    public const string ServiceName = "grpc.health.v1.Health";

    public ServiceDefinition Definition() =>
        ServiceDefinition.CreateBuilder(ServiceName)
            .AddUnary<HealthCheckRequest, HealthCheckResponse>("Check", HealthCheckRequest.Parser, CheckAsync)
            .AddServerStreaming<HealthCheckRequest, HealthCheckResponse>("Watch", HealthCheckRequest.Parser, WatchAsync)
            .Build();

    /// <summary>Sets the status of one service (or of the whole agent, with the empty name) and tells watchers.</summary>
    public void SetStatus(string service, ServingStatus status)
    {
        lock (_gate)
        {
            _statuses[service] = status;
        }

        Changed?.Invoke(service, status);
    }

    /// <summary>
    /// Shutdown: marks everything NOT_SERVING, and ends every Watch stream after it has sent that, so that open
    /// watches do not hold the process for the whole shutdown timeout.
    /// </summary>
    public void Shutdown()
    {
        SetAllNotServing();
        _shutdown.Cancel();
    }

    /// <summary>Marks everything NOT_SERVING.</summary>
    public void SetAllNotServing()
    {
        string[] names;
        lock (_gate)
        {
            names = [.. _statuses.Keys];
        }

        foreach (string name in names)
        {
            SetStatus(name, ServingStatus.NotServing);
        }
    }

    /// <summary>
    /// Has <paramref name="service"/> answer NOT_SERVING to Check whenever <paramref name="serving"/> says false (asked
    /// at each Check; Watch streams see only <see cref="SetStatus"/> changes): the lease ledger while a set-aside waits
    /// for an operator.
    /// </summary>
    public void SetProbe(string service, Func<bool> serving)
    {
        lock (_gate)
        {
            _probes[service] = serving;
        }
    }

    private ServingStatus? Lookup(string service)
    {
        Func<bool>? probe;
        ServingStatus status;
        lock (_gate)
        {
            if (!_statuses.TryGetValue(service, out status))
            {
                return null;
            }

            probe = _probes.GetValueOrDefault(service);
        }

        return status == ServingStatus.Serving && probe is not null && !probe() ? ServingStatus.NotServing : status;
    }

    /// <summary>How much of a client's service name an error message repeats: real names are a few dozen bytes.</summary>
    private const int MaxEchoedNameBytes = 256;

    private Task<HealthCheckResponse> CheckAsync(HealthCheckRequest request, ServerCallContext context)
    {
        ServingStatus status = Lookup(request.Service)
            ?? throw new RpcException(StatusCode.NotFound, $"unknown service \"{GrpcMessageEncoding.Truncate(request.Service, MaxEchoedNameBytes)}\"");
        return Task.FromResult(new HealthCheckResponse { Status = status });
    }

    private async Task WatchAsync(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> writer, ServerCallContext context)
    {
        var updates = System.Threading.Channels.Channel.CreateBounded<ServingStatus>(
            new System.Threading.Channels.BoundedChannelOptions(16) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropOldest });
        void OnChanged(string service, ServingStatus status)
        {
            if (service == request.Service)
            {
                updates.Writer.TryWrite(status);
            }
        }

        Changed += OnChanged;
        using CancellationTokenRegistration stop = _shutdown.Token.Register(() => updates.Writer.TryComplete());
        try
        {
            ServingStatus last = Lookup(request.Service) ?? ServingStatus.ServiceUnknown;
            await writer.WriteAsync(new HealthCheckResponse { Status = last }, context.CancellationToken).ConfigureAwait(false);
            await foreach (ServingStatus status in updates.Reader.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            {
                if (status != last)
                {
                    last = status;
                    await writer.WriteAsync(new HealthCheckResponse { Status = status }, context.CancellationToken).ConfigureAwait(false);
                }
            }

            // Shutdown completed the queue: tell the watcher NOT_SERVING if that was not the last thing it saw.
            ServingStatus final = Lookup(request.Service) ?? ServingStatus.ServiceUnknown;
            if (final != last)
            {
                await writer.WriteAsync(new HealthCheckResponse { Status = final }, context.CancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            Changed -= OnChanged;
        }
    }
}
