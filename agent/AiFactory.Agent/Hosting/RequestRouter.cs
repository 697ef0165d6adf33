using AiFactory.Grpc.Server;
using Microsoft.AspNetCore.Http;

namespace AiFactory.Agent.Hosting;

/// <summary>
/// Sends each HTTP request by the listener its connection came in on (<see cref="AgentListenerFeature"/>): on the
/// gRPC listeners (the Unix socket, <c>--listen</c>) everything goes to the gRPC server, which answers 405/415 to
/// what is not gRPC; on the metrics listener only the plain HTTP endpoints (<c>/metrics</c>) are served, GET and
/// HEAD, and never gRPC, whatever the content type: that listener has no TLS and no authentication, and the API
/// must stay behind the socket's permissions and the TCP listener's TLS. A connection with no tag gets 404.
/// </summary>
internal sealed class RequestRouter
{
    private readonly GrpcServer _grpc;
    private readonly Dictionary<string, RequestDelegate> _httpEndpoints = new(StringComparer.Ordinal);

    public RequestRouter(GrpcServer grpc)
    {
        _grpc = grpc;
    }

    /// <summary>Adds a plain HTTP endpoint on the metrics listener, for GET and HEAD (the handler sees both).</summary>
    public void MapGet(string path, RequestDelegate handler) => _httpEndpoints[path] = handler;

    public Task HandleAsync(HttpContext context) => context.Features.Get<AgentListenerFeature>()?.Listener switch
    {
        AgentListener.Grpc => _grpc.HandleAsync(context),
        AgentListener.Metrics => HandlePlainHttp(context),
        _ => NotFound(context),
    };

    private Task HandlePlainHttp(HttpContext context)
    {
        FirstRequestTimeout.RequestArrived(context);
        if (!_httpEndpoints.TryGetValue(context.Request.Path.Value ?? string.Empty, out RequestDelegate? handler))
        {
            return NotFound(context);
        }

        string method = context.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            context.Response.Headers.Allow = "GET, HEAD";
            return Task.CompletedTask;
        }

        return handler(context);
    }

    private static Task NotFound(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }
}
