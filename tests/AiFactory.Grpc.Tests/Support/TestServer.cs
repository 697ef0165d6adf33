using System.Net;
using System.Security.Cryptography.X509Certificates;
using AiFactory.Grpc.Server;
using AiFactory.Grpc.Services;
using AiFactory.Tests.Shared;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AiFactory.Grpc.Tests.Support;

/// <summary>
/// A real Kestrel serving <see cref="GrpcServer"/> with the test service and a health service, on a Unix socket
/// in a fresh temp directory and on a loopback TCP port chosen by the kernel (h2c, and TLS when asked).
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _dir;

    private TestServer(WebApplication app, string dir, TestService service, List<(string Method, StatusCode Code, TimeSpan Duration)> calls)
    {
        _app = app;
        _dir = dir;
        Service = service;
        Calls = calls;
    }

    public TestService Service { get; }

    /// <summary>What GrpcServer logged.</summary>
    public RecordingLogger<GrpcServer> Log { get; } = new();

    /// <summary>What GrpcServerOptions.CallCompleted reported, in order.</summary>
    public List<(string Method, StatusCode Code, TimeSpan Duration)> Calls { get; }

    public string SocketPath => Path.Combine(_dir, "grpc.sock");

    public int TcpPort { get; private set; }

    public int TlsPort { get; private set; }

    public X509Certificate2? Certificate { get; private set; }

    public static async Task<TestServer> StartAsync(Action<GrpcServerOptions>? configure = null, X509Certificate2? tlsCertificate = null, GrpcKestrelLimits? limits = null, Action<HttpsConnectionAdapterOptions>? https = null)
    {
        string dir = Directory.CreateTempSubdirectory("aifactory-grpc-").FullName;
        var service = new TestService();
        var calls = new List<(string, StatusCode, TimeSpan)>();
        var options = new GrpcServerOptions();
        options.CallCompleted = (m, c, d) =>
        {
            lock (calls)
            {
                calls.Add((m, c, d));
            }
        };
        configure?.Invoke(options);

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        string socket = Path.Combine(dir, "grpc.sock");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            (limits ?? new GrpcKestrelLimits()).ApplyTo(kestrel);
            kestrel.ListenUnixSocket(socket, l => l.Protocols = HttpProtocols.Http2);
            kestrel.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2);
            if (tlsCertificate is not null)
            {
                kestrel.Listen(IPAddress.Loopback, 0, l =>
                {
                    l.Protocols = HttpProtocols.Http2;
                    var options = new HttpsConnectionAdapterOptions { ServerCertificate = tlsCertificate };
                    https?.Invoke(options);
                    l.UseHttps(options);
                });
            }
        });
        WebApplication app = builder.Build();
        var server = new TestServer(app, dir, service, calls) { Certificate = tlsCertificate };
        var grpc = new GrpcServer([service.Definition(), HealthDefinition()], options, server.Log);
        app.Run(grpc.HandleAsync);
        await app.StartAsync();

        var ports = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Where(a => !a.StartsWith("http://unix:", StringComparison.Ordinal))
            .ToList();
        foreach (string address in ports)
        {
            var uri = new Uri(address);
            if (uri.Scheme == "https")
            {
                server.TlsPort = uri.Port;
            }
            else
            {
                server.TcpPort = uri.Port;
            }
        }

        return server;
    }

    /// <summary>A minimal grpc.health.v1.Health: the whole server and the test service are SERVING.</summary>
    private static ServiceDefinition HealthDefinition() =>
        ServiceDefinition.CreateBuilder("grpc.health.v1.Health")
            .AddUnary<HealthCheckRequest, HealthCheckResponse>("Check", HealthCheckRequest.Parser, (r, _) =>
                r.Service is "" or TestService.Name
                    ? Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving })
                    : throw new RpcException(StatusCode.NotFound, $"unknown service \"{r.Service}\""))
            .Build();

    /// <summary>Waits until CallCompleted has reported <paramref name="count"/> calls (it runs after the response is sent).</summary>
    public async Task<List<(string Method, StatusCode Code, TimeSpan Duration)>> WaitForCallsAsync(int count)
    {
        for (int i = 0; i < 200; i++)
        {
            lock (Calls)
            {
                if (Calls.Count >= count)
                {
                    return [.. Calls];
                }
            }

            await Task.Delay(25);
        }

        lock (Calls)
        {
            return [.. Calls];
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
