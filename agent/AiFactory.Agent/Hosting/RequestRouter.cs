using AiFactory.Grpc.Protocol;
using AiFactory.Grpc.Server;
using Microsoft.AspNetCore.Http;

namespace AiFactory.Agent.Hosting;

/// <summary>
/// Sends each HTTP request to the gRPC server or to a plain HTTP endpoint (<c>/metrics</c>, added by the
/// metrics feature). gRPC requests are HTTP/2 with a gRPC content type; anything else on HTTP/2 still goes
/// to the gRPC server, which answers 415 as the spec asks.
/// </summary>
internal sealed class RequestRouter
{
    private readonly GrpcServer _grpc;
    private readonly Dictionary<string, RequestDelegate> _httpEndpoints = new(StringComparer.Ordinal);

    public RequestRouter(GrpcServer grpc)
    {
        _grpc = grpc;
    }

    /// <summary>Adds a plain HTTP GET endpoint.</summary>
    public void MapGet(string path, RequestDelegate handler) => _httpEndpoints[path] = handler;

    public Task HandleAsync(HttpContext context)
    {
        if (HttpMethods.IsGet(context.Request.Method) && _httpEndpoints.TryGetValue(context.Request.Path.Value ?? string.Empty, out RequestDelegate? handler))
        {
            return handler(context);
        }

        if (context.Request.Protocol == "HTTP/2" || GrpcHeaders.IsGrpcContentType(context.Request.ContentType))
        {
            return _grpc.HandleAsync(context);
        }

        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }
}
