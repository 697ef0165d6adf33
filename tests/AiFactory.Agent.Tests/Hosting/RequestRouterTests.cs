using AiFactory.Agent.Hosting;
using AiFactory.Grpc;
using AiFactory.Grpc.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Agent.Tests.Hosting;

/// <summary>
/// The router sends a request by the listener its connection came in on, never by what the client sent: the gRPC
/// API stays off the unauthenticated metrics listener, and /metrics off the gRPC listeners.
/// </summary>
public sealed class RequestRouterTests
{
    private const string GetStatus = "/aifactory.agent.v1.Agent/GetStatus";

    private readonly List<string> _grpcCalls = [];
    private readonly List<string> _metricsRequests = [];
    private readonly RequestRouter _router;

    public RequestRouterTests()
    {
        var options = new GrpcServerOptions { CallCompleted = (method, code, _) => _grpcCalls.Add($"{method} {code}") };
        _router = new RequestRouter(new GrpcServer([], options, NullLogger<GrpcServer>.Instance));
        _router.MapGet("/metrics", context =>
        {
            _metricsRequests.Add(context.Request.Method);
            context.Response.StatusCode = StatusCodes.Status200OK;
            return Task.CompletedTask;
        });
    }

    private static DefaultHttpContext Request(AgentListener? listener, string method, string path, string protocol = "HTTP/1.1", string? contentType = null)
    {
        var context = new DefaultHttpContext();
        if (listener is { } l)
        {
            context.Features.Set(AgentListenerFeature.For(l));
        }

        context.Request.Method = method;
        context.Request.Path = path;
        context.Request.Protocol = protocol;
        context.Request.ContentType = contentType;
        return context;
    }

    [Theory]
    [InlineData("HTTP/1.1", "application/grpc")]
    [InlineData("HTTP/1.1", "application/grpc+proto")]
    [InlineData("HTTP/2", "application/grpc")]
    public async Task A_grpc_call_on_the_metrics_listener_is_404_and_never_reaches_the_grpc_server(string protocol, string contentType)
    {
        DefaultHttpContext context = Request(AgentListener.Metrics, "POST", GetStatus, protocol, contentType);

        await _router.HandleAsync(context);

        Assert.Equal(StatusCodes.Status404NotFound, context.Response.StatusCode);
        Assert.False(context.Response.Headers.ContainsKey("grpc-status"));
        Assert.Empty(_grpcCalls);
        Assert.Empty(_metricsRequests);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task The_metrics_listener_serves_GET_and_HEAD_of_metrics(string method)
    {
        DefaultHttpContext context = Request(AgentListener.Metrics, method, "/metrics");

        await _router.HandleAsync(context);

        Assert.Equal(StatusCodes.Status200OK, context.Response.StatusCode);
        Assert.Equal([method], _metricsRequests);
    }

    [Theory]
    [InlineData("POST", null)]
    [InlineData("POST", "application/grpc")]
    [InlineData("PUT", null)]
    [InlineData("DELETE", null)]
    public async Task Another_method_on_metrics_is_405_naming_GET_and_HEAD(string method, string? contentType)
    {
        DefaultHttpContext context = Request(AgentListener.Metrics, method, "/metrics", contentType: contentType);

        await _router.HandleAsync(context);

        Assert.Equal(StatusCodes.Status405MethodNotAllowed, context.Response.StatusCode);
        Assert.Equal("GET, HEAD", context.Response.Headers.Allow.ToString());
        Assert.Empty(_metricsRequests);
        Assert.Empty(_grpcCalls);
    }

    [Theory]
    [InlineData("GET", "/")]
    [InlineData("GET", "/metrics/")]
    [InlineData("GET", "/Metrics")]
    [InlineData("HEAD", "/healthz")]
    public async Task Any_other_path_on_the_metrics_listener_is_404(string method, string path)
    {
        DefaultHttpContext context = Request(AgentListener.Metrics, method, path);

        await _router.HandleAsync(context);

        Assert.Equal(StatusCodes.Status404NotFound, context.Response.StatusCode);
        Assert.Empty(_metricsRequests);
    }

    [Fact]
    public async Task A_grpc_call_on_a_grpc_listener_goes_to_the_grpc_server()
    {
        DefaultHttpContext context = Request(AgentListener.Grpc, "POST", GetStatus, "HTTP/2", "application/grpc");

        await _router.HandleAsync(context);

        // No service is registered here: the gRPC server answers UNIMPLEMENTED, which shows the call reached it.
        Assert.Equal(((int)StatusCode.Unimplemented).ToString(System.Globalization.CultureInfo.InvariantCulture), context.Response.Headers["grpc-status"].ToString());
        Assert.Equal([$"{GrpcServer.UnknownMethod} {StatusCode.Unimplemented}"], _grpcCalls);
    }

    [Fact]
    public async Task Metrics_is_not_served_on_a_grpc_listener()
    {
        DefaultHttpContext context = Request(AgentListener.Grpc, "GET", "/metrics", "HTTP/2");

        await _router.HandleAsync(context);

        // The gRPC server's answer to a GET (405), not the metrics endpoint.
        Assert.Equal(StatusCodes.Status405MethodNotAllowed, context.Response.StatusCode);
        Assert.Empty(_metricsRequests);
    }

    [Theory]
    [InlineData("POST", GetStatus, "application/grpc")]
    [InlineData("GET", "/metrics", null)]
    public async Task A_connection_with_no_listener_tag_is_served_nothing(string method, string path, string? contentType)
    {
        DefaultHttpContext context = Request(null, method, path, "HTTP/2", contentType);

        await _router.HandleAsync(context);

        Assert.Equal(StatusCodes.Status404NotFound, context.Response.StatusCode);
        Assert.Empty(_grpcCalls);
        Assert.Empty(_metricsRequests);
    }
}
