using System.Diagnostics;

namespace AiFactory.Grpc.Server;

/// <summary>
/// The one timer of a call. It ends the call at its deadline and, for a call that takes one request message, first at
/// <see cref="GrpcServerOptions.RequestMessageTimeout"/> unless the request has arrived whole by then: a request that
/// never ends would otherwise hold its call (and, with Kestrel's data rates, its whole connection) open.
/// </summary>
internal sealed class CallTimer
{
    private readonly CancellationTokenSource _call;
    private readonly TimeSpan _deadline;
    private readonly TimeSpan _request;
    private readonly long _started = Stopwatch.GetTimestamp();
    private int _requestReceived;

    /// <summary>
    /// Starts the timer on <paramref name="call"/>. <paramref name="deadline"/> and <paramref name="requestTimeout"/>
    /// are <see cref="TimeSpan.MaxValue"/> when there is none.
    /// </summary>
    public CallTimer(CancellationTokenSource call, TimeSpan deadline, TimeSpan requestTimeout)
    {
        _call = call;
        _deadline = deadline;
        _request = requestTimeout;
        TimeSpan first = deadline < requestTimeout ? deadline : requestTimeout;
        if (first != TimeSpan.MaxValue)
        {
            call.CancelAfter(first);
        }
    }

    /// <summary>The request limit in whole seconds, for the status message.</summary>
    public double RequestTimeoutSeconds => _request.TotalSeconds;

    /// <summary>
    /// True when the call has not yet received its whole request and the request limit comes before the deadline:
    /// if such a call's token was cancelled and the client is still there, the request limit is what ended it.
    /// </summary>
    public bool RequestTimedOut => Volatile.Read(ref _requestReceived) == 0 && _request < _deadline;

    /// <summary>The request has arrived whole (or ended in error): only the deadline is left to run.</summary>
    public void RequestReceived()
    {
        if (_request == TimeSpan.MaxValue || Interlocked.Exchange(ref _requestReceived, 1) != 0 || _request >= _deadline)
        {
            return;
        }

        try
        {
            if (_deadline == TimeSpan.MaxValue)
            {
                _call.CancelAfter(Timeout.InfiniteTimeSpan);
            }
            else
            {
                TimeSpan left = _deadline - Stopwatch.GetElapsedTime(_started);
                _call.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            }
        }
        catch (ObjectDisposedException)
        {
            // The call is over: a handler that outlived it finished a read.
        }
    }
}
