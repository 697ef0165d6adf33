using System.Diagnostics;
using AiFactory.Grpc;
using AiFactory.Grpc.Client;
using Grpc.Health.V1;

namespace GrpcLoad;

/// <summary>
/// Health/Check through the project's own client (<see cref="GrpcChannel"/> on SocketsHttpHandler): the call is
/// started inline up to its first await; the answer is timed on the thread-pool thread that runs its continuation.
/// A call counts as failed when it throws <see cref="RpcException"/>.
/// </summary>
internal sealed class ChannelHealthClient(GrpcChannel channel, string method) : IHealthClient
{
    private readonly HealthCheckRequest _request = new();
    private string? _firstError;
    private int _errors;

    public string LineFields => string.Empty;

    public string? FirstError => Volatile.Read(ref _firstError);

    public int ErrorCount => Volatile.Read(ref _errors);

    public void Start(ICallSink sink) => _ = CallAsync(sink);

    public void Dispose() => channel.Dispose();

    private async Task CallAsync(ICallSink sink)
    {
        bool ok;
        try
        {
            await channel.UnaryAsync(method, _request, HealthCheckResponse.Parser).ConfigureAwait(false);
            ok = true;
        }
        catch (RpcException ex)
        {
            Interlocked.CompareExchange(ref _firstError, ex.Message, null);
            Interlocked.Increment(ref _errors);
            ok = false;
        }

        long end = Stopwatch.GetTimestamp();
        if (ok)
        {
            sink.Completed(true, end);
        }
        else
        {
            // A call that fails at once would otherwise start the next one inside this one, without bound.
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Sink.Completed(false, s.End), (Sink: sink, End: end), preferLocal: false);
        }
    }
}
