using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc.Client;
using Google.Protobuf;

namespace AiFactory.EndToEnd.Tests;

/// <summary>
/// The metrics listener (plain HTTP/1.1, no TLS, no authentication, 0.0.0.0:9400 by default) serves GET and HEAD
/// /metrics and nothing else: the gRPC API, whose writes (Lease, Release) the Unix socket's permissions and the TCP
/// listener's TLS guard, is not reachable through it, whatever content type a request claims.
/// </summary>
public sealed class MetricsListenerTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static AgentUnderTest StartWithMetrics(out Uri metrics)
    {
        int port = FreePort();
        metrics = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
        AgentUnderTest agent = AgentUnderTest.Start(metricsListen: "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture));
        _ = agent.NextNotification() ?? throw new Xunit.Sdk.XunitException("no READY=1 from the agent: " + agent.Process.Describe());
        return agent;
    }

    /// <summary>One gRPC message frame: flag 0, big-endian length, the message.</summary>
    private static byte[] Frame(IMessage message)
    {
        byte[] body = message.ToByteArray();
        byte[] frame = new byte[5 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)body.Length);
        body.CopyTo(frame, 5);
        return frame;
    }

    private static HttpClient Http1() => new() { DefaultRequestVersion = HttpVersion.Version11, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = AgentUnderTest.Patience };

    private static HttpRequestMessage GrpcPost(Uri metrics, string method, IMessage message)
    {
        var content = new ByteArrayContent(Frame(message));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(metrics, method.TrimStart('/'))) { Content = content };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        return request;
    }

    [Fact]
    public async Task Grpc_calls_posted_to_the_metrics_port_are_refused_and_change_nothing()
    {
        using AgentUnderTest agent = StartWithMetrics(out Uri metrics);
        using HttpClient http = Http1();
        (string Method, IMessage Request)[] calls =
        [
            ("/aifactory.agent.v1.Agent/GetStatus", new GetStatusRequest()),
            ("/aifactory.agent.v1.Leases/Lease", new CreateLeaseRequest { Spec = new LeaseSpec { Owner = "intruder", Vcpus = 1 } }),
            ("/aifactory.agent.v1.Leases/Release", new ReleaseLeaseRequest { Id = "any" }),
            ("/grpc.health.v1.Health/Check", new GetStatusRequest()),
        ];

        foreach ((string method, IMessage request) in calls)
        {
            using HttpResponseMessage response = await http.SendAsync(GrpcPost(metrics, method, request));

            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.False(response.Headers.Contains("grpc-status"), method + " was answered by the gRPC server");
            Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        }

        // None of the calls reached the gRPC server: it records every call it answers, unknown ones included.
        string exposition = await http.GetStringAsync(new Uri(metrics, "metrics"));
        Assert.DoesNotContain(exposition.Split('\n'), line => line.StartsWith("aifactory_rpc_duration_seconds", StringComparison.Ordinal));

        // And the ledger is as it was: empty.
        using GrpcChannel channel = agent.Channel();
        ListLeasesResponse leases = await channel.UnaryAsync("/aifactory.agent.v1.Leases/ListLeases", new ListLeasesRequest { IncludeEnded = true }, ListLeasesResponse.Parser);
        Assert.Empty(leases.Leases);
    }

    [Fact]
    public async Task The_metrics_port_serves_GET_and_HEAD_of_metrics_and_nothing_else()
    {
        using AgentUnderTest agent = StartWithMetrics(out Uri metrics);
        using HttpClient http = Http1();

        using HttpResponseMessage get = await http.GetAsync(new Uri(metrics, "metrics"));
        using HttpResponseMessage head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, new Uri(metrics, "metrics")));
        using HttpResponseMessage post = await http.PostAsync(new Uri(metrics, "metrics"), new ByteArrayContent([]));
        using HttpResponseMessage other = await http.GetAsync(new Uri(metrics, "aifactory.agent.v1.Agent/GetStatus"));

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Contains("aifactory_build_info", await get.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.Equal(["Accept", "Accept-Encoding"], get.Headers.Vary);
        Assert.Equal(["Accept", "Accept-Encoding"], head.Headers.Vary);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal(["GET", "HEAD"], post.Content.Headers.Allow);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }
}
