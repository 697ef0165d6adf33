using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AiFactory.Grpc.Client;
using AiFactory.Grpc.Tests.Support;
using AiFactory.Tests.Shared;
using Grpc.Health.V1;

namespace AiFactory.Grpc.Tests.Interop;

/// <summary>gRPC over TLS on TCP (the daemon's --listen), with a self-signed certificate made by the test.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private X509Certificate2 _certificate = null!;
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _certificate = SelfSigned();
        _server = await TestServer.StartAsync(tlsCertificate: _certificate);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _certificate.Dispose();
    }

    [Fact]
    public async Task Our_client_calls_over_TLS_trusting_the_servers_certificate()
    {
        string thumbprint = _certificate.Thumbprint;
        using GrpcChannel channel = GrpcChannel.ForAddress(new Uri($"https://localhost:{_server.TlsPort}"), new GrpcChannelOptions
        {
            ServerCertificateValidation = (_, cert, _, _) => cert is X509Certificate2 c && c.Thumbprint == thumbprint,
        });
        HealthCheckResponse response = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task Our_client_refuses_a_certificate_it_does_not_trust()
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(new Uri($"https://localhost:{_server.TlsPort}"));
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task Our_client_trusts_a_certificate_that_chains_to_the_authorities_it_was_given()
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(new Uri($"https://localhost:{_server.TlsPort}"), new GrpcChannelOptions
        {
            TrustedCertificateAuthorities = [X509Certificate2.CreateFromPem(_certificate.ExportCertificatePem())],
        });

        HealthCheckResponse response = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task Our_client_refuses_a_certificate_outside_the_authorities_it_was_given()
    {
        using X509Certificate2 other = SelfSigned();
        using GrpcChannel channel = GrpcChannel.ForAddress(new Uri($"https://localhost:{_server.TlsPort}"), new GrpcChannelOptions
        {
            TrustedCertificateAuthorities = [X509Certificate2.CreateFromPem(other.ExportCertificatePem())],
        });

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }

    [Fact]
    public async Task grpc_js_calls_over_TLS_with_the_certificate_as_its_CA()
    {
        var spec = JsonSpec.Of($"localhost:{_server.TlsPort}", "Check");
        spec["tls"] = new JsonObject { ["ca"] = _certificate.ExportCertificatePem() };
        NodeCallResult result = await NodePeer.CallAsync(spec);

        Assert.Equal(StatusCode.OK, result.Code);
        Assert.Equal("SERVING", result.Responses.Single()!["status"]!.GetValue<string>());
    }

    private static X509Certificate2 SelfSigned()
    {
        using X509Certificate2 created = LocalhostCertificate.Create();

        // Through PKCS#12 so that SslStream on Linux gets a key it can use.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }
}
