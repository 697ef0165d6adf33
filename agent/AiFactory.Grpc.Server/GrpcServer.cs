using System.Diagnostics;
using AiFactory.Grpc.Protocol;
using AiFactory.Grpc.Services;
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

    /// <summary>The names of the services served.</summary>
    public IReadOnlyList<string> ServiceNames { get; private set; } = [];

    /// <summary>The full names (<c>/package.Service/Method</c>) of every method served.</summary>
    public IEnumerable<string> MethodNames => _methods.Keys;

    /// <summary>Handles one HTTP request as a gRPC call. Never throws for anything the client sent.</summary>
    public async Task HandleAsync(HttpContext context)
    {
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
            Complete(context, path, started, StatusCode.Unimplemented, $"Method is unimplemented: {path}");
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

        using var deadlineCts = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        DateTime deadline = DateTime.MaxValue;
        if (timeout != Timeout.InfiniteTimeSpan && timeout < GrpcTimeout.Max)
        {
            deadline = DateTime.UtcNow + timeout;
            deadlineCts.CancelAfter(timeout);
        }

        var callContext = new ServerCallContext(path, deadline, CollectHeaders(request), Peer(context), deadlineCts.Token);
        var stream = new HttpContextCallStream(context, _options);
        StatusCode status = StatusCode.OK;
        string message = string.Empty;
        try
        {
            await handler.InvokeAsync(stream, callContext).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            (status, message) = (ex.StatusCode, ex.Detail);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && deadlineCts.IsCancellationRequested)
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away (RST_STREAM or connection closed): there is nobody to answer.
                _options.CallCompleted?.Invoke(path, StatusCode.Cancelled, Stopwatch.GetElapsedTime(started));
                return;
            }

            (status, message) = (StatusCode.DeadlineExceeded, "Deadline exceeded.");
        }
        catch (Exception ex)
        {
            LogHandlerFailed(_logger, path, ex);
            (status, message) = (StatusCode.Unknown, "Exception was thrown by handler: " + ex.GetType().Name);
        }

        if (status == StatusCode.OK && deadline != DateTime.MaxValue && DateTime.UtcNow > deadline && !stream.ResponseStarted)
        {
            (status, message) = (StatusCode.DeadlineExceeded, "Deadline exceeded.");
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            _options.CallCompleted?.Invoke(path, StatusCode.Cancelled, Stopwatch.GetElapsedTime(started));
            return;
        }

        Complete(context, path, started, status, message);
    }

    private void Complete(HttpContext context, string path, long started, StatusCode status, string message)
    {
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

        _options.CallCompleted?.Invoke(path, status, Stopwatch.GetElapsedTime(started));
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

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "gRPC handler for {Method} failed")]
    private static partial void LogHandlerFailed(ILogger logger, string method, Exception exception);
}
