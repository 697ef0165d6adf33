using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace GrpcLoad;

/// <summary>
/// Health/Check over HTTP/2 written by hand (<see cref="RawH2Connection"/>), the C# counterpart of h2load: a lean
/// client, so that the latency it reports is the server's rather than SocketsHttpHandler's. Calls are spread
/// round-robin over <c>connections</c> connections, streams multiplexed on each as gRPC clients do. A call is OK
/// only when the answer is HTTP 200, exactly the SERVING HealthCheckResponse and grpc-status 0.
/// </summary>
internal sealed class RawHealthClient : IHealthClient
{
    private readonly RawH2Connection[] _connections;
    private string? _firstError;
    private int _errors;
    private int _next;

    public RawHealthClient(EndPoint endPoint, int connections, string path, string authority)
    {
        _connections = new RawH2Connection[connections];
        try
        {
            for (int i = 0; i < connections; i++)
            {
                _connections[i] = RawH2Connection.Connect(endPoint, this, path, authority);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>client=raw, the number of connections, and queued: the calls that waited for a stream slot or window.</summary>
    public string LineFields => string.Create(CultureInfo.InvariantCulture, $" client=raw connections={_connections.Length} queued={_connections.Sum(c => c.Queued)}");

    public string? FirstError => Volatile.Read(ref _firstError);

    public int ErrorCount => Volatile.Read(ref _errors);

    public void Start(ICallSink sink)
    {
        RawH2Connection connection = _connections.Length == 1
            ? _connections[0]
            : _connections[(int)((uint)Interlocked.Increment(ref _next) % (uint)_connections.Length)];
        connection.Start(sink);
    }

    /// <summary>Counts a failed call and keeps the first reason.</summary>
    public void RecordError(string reason)
    {
        Interlocked.CompareExchange(ref _firstError, reason, null);
        Interlocked.Increment(ref _errors);
    }

    /// <summary>Fails a call on the thread pool, so that the caller's thread never runs its sink inside a start.</summary>
    public void FailLater(ICallSink sink, string reason)
    {
        RecordError(reason);
        ThreadPool.UnsafeQueueUserWorkItem(static s => s.Completed(false, Stopwatch.GetTimestamp()), sink, preferLocal: false);
    }

    public void Dispose()
    {
        foreach (RawH2Connection? connection in _connections)
        {
            connection?.Dispose();
        }
    }
}
