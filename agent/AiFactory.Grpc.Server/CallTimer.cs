using System.Diagnostics;

namespace AiFactory.Grpc.Server;

/// <summary>
/// The one timer of a call. It ends the call at its deadline and, for a call that takes one request message, at
/// <see cref="GrpcServerOptions.RequestMessageTimeout"/> after its start unless the request has arrived whole by then:
/// a request that never ends would otherwise hold its call (and, with Kestrel's data rates, its whole connection)
/// open. The request limit is armed only when a read has to wait: a unary request usually arrives with its headers,
/// and a call with no deadline then starts no timer at all.
/// </summary>
internal sealed class CallTimer
{
    private readonly CancellationTokenSource _call;
    private readonly TimeSpan _deadline;
    private readonly TimeSpan _request;
    private readonly long _started = Stopwatch.GetTimestamp();
    private int _state; // 0 waiting for the request, not armed; 1 armed; 2 received

    /// <summary>
    /// Starts the deadline on <paramref name="call"/>. <paramref name="deadline"/> and <paramref name="requestTimeout"/>
    /// are <see cref="TimeSpan.MaxValue"/> when there is none.
    /// </summary>
    public CallTimer(CancellationTokenSource call, TimeSpan deadline, TimeSpan requestTimeout)
    {
        _call = call;
        _deadline = deadline;
        _request = requestTimeout < deadline ? requestTimeout : TimeSpan.MaxValue; // a later limit never fires first
        if (deadline != TimeSpan.MaxValue)
        {
            call.CancelAfter(deadline);
        }
    }

    /// <summary>The request limit in seconds, for the status message.</summary>
    public double RequestTimeoutSeconds => _request.TotalSeconds;

    /// <summary>
    /// True when the request limit was armed and the request has not arrived: if such a call's token was cancelled
    /// and the client is still there, the request limit is what ended it (it comes before the deadline).
    /// </summary>
    public bool RequestTimedOut => Volatile.Read(ref _state) == 1;

    /// <summary>A read of the request has to wait for the client: the request limit starts to count (from the call's start).</summary>
    public void RequestPending()
    {
        if (_request == TimeSpan.MaxValue || Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            return;
        }

        Reset(_request);
    }

    /// <summary>The request has arrived whole (or ended in error): only the deadline is left to run.</summary>
    public void RequestReceived()
    {
        if (Interlocked.Exchange(ref _state, 2) == 1)
        {
            Reset(_deadline);
        }
    }

    /// <summary>Moves the timer to <paramref name="after"/> from the call's start (MaxValue: no timer).</summary>
    private void Reset(TimeSpan after)
    {
        try
        {
            if (after == TimeSpan.MaxValue)
            {
                _call.CancelAfter(Timeout.InfiniteTimeSpan);
            }
            else
            {
                TimeSpan left = after - Stopwatch.GetElapsedTime(_started);
                _call.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            }
        }
        catch (ObjectDisposedException)
        {
            // The call is over: a handler that outlived it finished a read.
        }
    }
}
