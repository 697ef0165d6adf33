using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AiFactory.Grpc.Server;

/// <summary>
/// Closes a connection that has not brought a first request within a time. Kestrel's RequestHeadersTimeout does not
/// cover that wait: until an HTTP/2 connection's first request (and an HTTP/1.1 connection's first byte) only the
/// keep-alive timeout runs, so a connection that never speaks stays for <see cref="GrpcKestrelLimits.KeepAliveTimeout"/>.
/// Connection middleware starts a timer; the first request that reaches the application (headers complete) stops it.
/// </summary>
public sealed class FirstRequestTimeout
{
    private readonly ConnectionContext _connection;
    private Timer? _timer;
    private volatile bool _arrived;

    private FirstRequestTimeout(ConnectionContext connection)
    {
        _connection = connection;
    }

    /// <summary>Adds the timer to every connection <paramref name="listen"/> accepts.</summary>
    public static void Use(ListenOptions listen, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(listen);
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        listen.Use(next => async connection =>
        {
            var watch = new FirstRequestTimeout(connection);
            connection.Features.Set(watch);
            watch._timer = new Timer(static s => ((FirstRequestTimeout)s!).Expire(), watch, timeout, Timeout.InfiniteTimeSpan);
            try
            {
                await next(connection).ConfigureAwait(false);
            }
            finally
            {
                watch.Stop();
            }
        });
    }

    /// <summary>Tells the connection of <paramref name="context"/> that a request has come (cheap; call it for every request).</summary>
    public static void RequestArrived(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);

        // Kestrel's request features fall back to the connection's, where Use put it.
        if (context.Features.Get<FirstRequestTimeout>() is { _arrived: false } watch)
        {
            watch._arrived = true;
            watch.Stop();
        }
    }

    private void Stop() => Interlocked.Exchange(ref _timer, null)?.Dispose();

    private void Expire()
    {
        if (!_arrived)
        {
            _connection.Abort(new ConnectionAbortedException("No request came within the request headers timeout."));
        }
    }
}
