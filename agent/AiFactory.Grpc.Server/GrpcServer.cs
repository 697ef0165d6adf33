using System.Diagnostics;
using AiFactory.Grpc.Protocol;
using AiFactory.Grpc.Services;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace AiFactory.Grpc.Server;

/// <summary>
/// Serves registered gRPC services on Kestrel HTTP/2 requests: routing by <c>/service/method</c>, deadlines,
/// cancellation, and the status in trailers (or in headers for a trailers-only answer).
/// </summary>
public sealed partial class GrpcServer
{
    private readonly Dictionary<string, MethodHandler> _methods = new(StringComparer.Ordinal);
    private readonly GrpcServerOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates a server for <paramref name="services"/>.</summary>
    public GrpcServer(IEnumerable<ServiceDefinition> services, GrpcServerOptions options, ILogger<GrpcServer> logger)
    {
        _options = options;
        _logger = logger;
        var names = new List<string>();
        foreach (ServiceDefinition service in services)
        {
            names.Add(service.Name);
            foreach ((string name, MethodHandler handler) in service.Methods)
            {
                _methods.Add($"/{service.Name}/{name}", handler);
            }
        }

        ServiceNames = names;
    }

    /// <summary>The method name <see cref="GrpcServerOptions.CallCompleted"/> gets for a path no service serves.</summary>
    public const string UnknownMethod = "unknown";

    /// <summary>The names of the services served.</summary>
    public IReadOnlyList<string> ServiceNames { get; private set; } = [];

    /// <summary>The full names (<c>/package.Service/Method</c>) of every method served.</summary>
    public IEnumerable<string> MethodNames => _methods.Keys;

    /// <summary>Handles one HTTP request as a gRPC call. Never throws for anything the client sent.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        FirstRequestTimeout.RequestArrived(context);
        HttpRequest request = context.Request;
        HttpResponse response = context.Response;
        string path = request.Path.Value ?? string.Empty;
        long started = Stopwatch.GetTimestamp();

        if (!HttpMethods.IsPost(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }

        if (!GrpcHeaders.IsGrpcContentType(request.ContentType))
        {
            // The spec's answer to a request that is not gRPC at all; no grpc-status: this is not a gRPC response.
            response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }

        if (!_methods.TryGetValue(path, out MethodHandler? handler))
        {
            // Reported as UnknownMethod, not by its path: a client chooses the path, and a hook that keys on it
            // (a metric's label) would grow by one entry per path sent.
            Complete(context, UnknownMethod, started, StatusCode.Unimplemented, $"Method is unimplemented: {path}");
            return;
        }

        string? encoding = request.Headers[GrpcHeaders.Encoding];
        if (!string.IsNullOrEmpty(encoding) && !string.Equals(encoding, GrpcHeaders.IdentityEncoding, StringComparison.Ordinal))
        {
            response.Headers[GrpcHeaders.AcceptEncoding] = GrpcHeaders.IdentityEncoding;
            Complete(context, path, started, StatusCode.Unimplemented, $"Unsupported grpc-encoding '{encoding}': this server accepts only 'identity'.");
            return;
        }

        TimeSpan timeout = Timeout.InfiniteTimeSpan;
        StringValues timeoutHeader = request.Headers[GrpcHeaders.Timeout];
        if (!StringValues.IsNullOrEmpty(timeoutHeader))
        {
            if (!GrpcTimeout.TryParse(timeoutHeader.ToString(), out timeout))
            {
                Complete(context, path, started, StatusCode.Internal, $"Malformed grpc-timeout '{timeoutHeader}'.");
                return;
            }
        }

        // gRPC messages are framed and bounded per message; Kestrel's whole-body limit would cut long streams.
        IHttpMaxRequestBodySizeFeature? bodySize = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (bodySize is { IsReadOnly: false })
        {
            bodySize.MaxRequestBodySize = null;
        }

        // Unary and server-streaming requests are one message and END_STREAM: the call's timer gives them
        // RequestMessageTimeout to arrive whole, so that a client that opens a request body and never ends it is cut
        // off even without a deadline, and only that call (Kestrel's data rates would close the whole connection).
        using var callCts = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        DateTime deadline = DateTime.MaxValue;
        TimeSpan deadlineTimer = TimeSpan.MaxValue;
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            DateTime now = DateTime.UtcNow;
            if (timeout < DateTime.MaxValue - now)
            {
                deadline = now + timeout;
            }

            // CancelAfter takes at most about 49 days; a longer deadline is, for a daemon, no deadline.
            if (timeout <= MaxTimer)
            {
                deadlineTimer = timeout;
            }
        }

        TimeSpan requestTimer = handler.Type is MethodType.Unary or MethodType.ServerStreaming
            && _options.RequestMessageTimeout != Timeout.InfiniteTimeSpan && _options.RequestMessageTimeout <= MaxTimer
                ? _options.RequestMessageTimeout
                : TimeSpan.MaxValue;
        var timer = new CallTimer(callCts, deadlineTimer, requestTimer);

        var callContext = new ServerCallContext(path, deadline, CollectHeaders(request), Peer(context), Authentication(context), callCts.Token);
        if (_options.Authorize?.Invoke(callContext) is { } refused)
        {
            // Before the request is read: a refused call's message never reaches product code.
            Complete(context, path, started, refused.StatusCode, refused.Detail);
            return;
        }

        var stream = new HttpContextCallStream(context, _options, timer, callCts.Token);
        Task handlerTask;
        try
        {
            handlerTask = handler.InvokeAsync(stream, callContext);
        }
        catch (Exception ex)
        {
            handlerTask = Task.FromException(ex);
        }

        if (!handlerTask.IsCompleted)
        {
            // Race the handler against the call's end: a handler that ignores its token must not hold the call open.
            var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using CancellationTokenRegistration registration = callCts.Token.UnsafeRegister(static state => ((TaskCompletionSource)state!).TrySetResult(), ended);
            await Task.WhenAny(handlerTask, ended.Task).ConfigureAwait(false);
        }

        (StatusCode status, string message) = Outcome(handlerTask, path, context.RequestAborted, callCts.IsCancellationRequested, timer);
        if (!handlerTask.IsCompleted)
        {
            // The handler carries on: observe its end so that a late exception is not unobserved, and make sure it
            // can no longer touch this HTTP context, which Kestrel reuses once we return.
            _ = handlerTask.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            if (context.RequestAborted.IsCancellationRequested)
            {
                // The client cancelled (RST_STREAM) or went away: normal for a stream it no longer wants, and the
                // handler is usually still unwinding from the cancellation this very moment. Nothing to warn about.
                LogHandlerOutlivedCancelledCall(_logger, path);
            }
            else
            {
                _ = WarnIfStillRunningAsync(handlerTask, path, status);
            }
        }

        if (!await stream.CloseAsync(CloseWait).ConfigureAwait(false))
        {
            // A read or write did not give way: reset the stream rather than write trailers beside it.
            context.Abort();
            Report(path, StatusCode.Cancelled, started);
            return;
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (RST_STREAM or connection closed): there is nobody to answer.
            Report(path, StatusCode.Cancelled, started);
            return;
        }

        Complete(context, path, started, status, message);
    }

    /// <summary>The longest delay a CancellationTokenSource timer takes.</summary>
    private static readonly TimeSpan MaxTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>How long the end of a call waits for a handler's read or write in progress to notice the cancellation.</summary>
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Warns about a handler that ignored its call's end (a deadline, the server stopping) if it is still running after
    /// <see cref="CloseWait"/>: one that honours its token is only unwinding when the call ends, and finishes soon after.
    /// </summary>
    private async Task WarnIfStillRunningAsync(Task handlerTask, string path, StatusCode status)
    {
        await Task.WhenAny(handlerTask, Task.Delay(CloseWait)).ConfigureAwait(false);
        if (!handlerTask.IsCompleted)
        {
            LogHandlerOutlivedCall(_logger, path, status);
        }
    }

    private (StatusCode Status, string Message) Outcome(Task handlerTask, string path, CancellationToken requestAborted, bool callEnded, CallTimer timer)
    {
        if (!handlerTask.IsCompleted || (callEnded && handlerTask.IsCanceled))
        {
            return Ended(requestAborted, timer);
        }

        if (handlerTask.IsCompletedSuccessfully)
        {
            return (StatusCode.OK, string.Empty);
        }

        Exception ex = handlerTask.Exception?.InnerException ?? new OperationCanceledException();
        switch (ex)
        {
            case RpcException rpc:
                return (rpc.StatusCode, rpc.Detail);
            case OperationCanceledException or IOException when callEnded:
                return Ended(requestAborted, timer);
            case InvalidProtocolBufferException:
                return (StatusCode.Internal, "Failed to deserialize the request message.");
            default:
                LogHandlerFailed(_logger, path, ex);
                return (StatusCode.Unknown, "Exception was thrown by handler: " + ex.GetType().Name);
        }
    }

    /// <summary>Why a call whose token was cancelled ended: the client left, its request never ended, or its deadline passed.</summary>
    private static (StatusCode Status, string Message) Ended(CancellationToken requestAborted, CallTimer timer)
    {
        if (requestAborted.IsCancellationRequested)
        {
            return (StatusCode.Cancelled, "The call was cancelled by the client.");
        }

        return timer.RequestTimedOut
            ? (StatusCode.DeadlineExceeded, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"The request did not arrive whole (one message and the end of the stream) within {timer.RequestTimeoutSeconds:0.###} s."))
            : (StatusCode.DeadlineExceeded, "Deadline exceeded.");
    }

    private void Report(string path, StatusCode status, long started) =>
        _options.CallCompleted?.Invoke(path, status, Stopwatch.GetElapsedTime(started));

    private void Complete(HttpContext context, string path, long started, StatusCode status, string message)
    {
        // Messages often echo what the client sent (an unknown path, a service name): bounded before they go out.
        message = GrpcMessageEncoding.Truncate(message);
        HttpResponse response = context.Response;
        string code = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!response.HasStarted)
        {
            // Trailers-only: the status travels in the one HEADERS frame, which also ends the stream.
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = GrpcHeaders.ContentType;
            response.Headers[GrpcHeaders.Status] = code;
            if (message.Length > 0)
            {
                response.Headers[GrpcHeaders.Message] = GrpcMessageEncoding.Encode(message);
            }
        }
        else if (response.SupportsTrailers())
        {
            response.AppendTrailer(GrpcHeaders.Status, code);
            if (message.Length > 0)
            {
                response.AppendTrailer(GrpcHeaders.Message, GrpcMessageEncoding.Encode(message));
            }
        }

        Report(path, status, started);
    }

    private static Dictionary<string, string> CollectHeaders(HttpRequest request)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach ((string key, StringValues value) in request.Headers)
        {
            if (key.StartsWith(':') || key.StartsWith("grpc-", StringComparison.OrdinalIgnoreCase) || key is "te" or "content-type")
            {
                continue;
            }

            headers[key] = value.ToString();
        }

        return headers;
    }

    /// <summary>
    /// The call's <see cref="AuthContext"/>: local on a Unix socket, insecure on TCP without TLS, and over TLS the
    /// subject of the client certificate when there is one. Kestrel hands the application a client certificate only
    /// after the handshake accepted it (the listener's validation callback, or the chain check when it has none), so
    /// one that is present was validated; a listener that asks for none never has one.
    /// </summary>
    private static AuthContext Authentication(HttpContext context)
    {
        // Kestrel's transports here are TCP (and QUIC), with an IP address at both ends, and Unix sockets, with none:
        // local only where neither end has one, so that any connection with an address counts as a network.
        if (context.Connection.LocalIpAddress is null && context.Connection.RemoteIpAddress is null)
        {
            return AuthContext.Local;
        }

        if (context.Features.Get<ITlsConnectionFeature>() is null)
        {
            return AuthContext.Insecure;
        }

        return context.Connection.ClientCertificate is { } certificate ? new AuthContext(CallTransport.Tls, certificate.Subject) : TlsAnonymous;
    }

    private static readonly AuthContext TlsAnonymous = new(CallTransport.Tls, peerIdentity: null);

    private static string Peer(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress;
        if (remote is null)
        {
            return "unix:";
        }

        return remote.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"ipv6:[{remote}]:{context.Connection.RemotePort}"
            : $"ipv4:{remote}:{context.Connection.RemotePort}";
    }

    // Event ids 100-199 belong to the gRPC layer (see agent/AiFactory.Agent/EventIds.cs for the daemon's ranges).
    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "gRPC handler for {Method} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "gRPC handler for {Method} ignored the end of its call ({Status}) and still runs; its late reads and writes are refused")]
    private static partial void LogHandlerOutlivedCall(ILogger logger, string method, StatusCode status);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "gRPC handler for {Method} still runs after the client cancelled its call; its late reads and writes are refused")]
    private static partial void LogHandlerOutlivedCancelledCall(ILogger logger, string method);
}
