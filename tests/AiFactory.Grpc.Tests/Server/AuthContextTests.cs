using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AiFactory.Grpc.Client;
using AiFactory.Grpc.Services;
using AiFactory.Grpc.Tests.Interop;
using AiFactory.Grpc.Tests.Support;
using AiFactory.Tests.Shared;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace AiFactory.Grpc.Tests.Server;

/// <summary>
/// What <see cref="ServerCallContext.AuthContext"/> says about the peer on each transport, and the server's
/// Authorize hook, which ends a call before its handler runs. The TLS listener here asks for a client certificate and
/// accepts one signed by the test's CA (its validation is the agent's business; see the end-to-end tests).
/// </summary>
public sealed class AuthContextTests : IAsyncLifetime
{
    private const string Echo = "/aifactory.test.v1.TestService/Echo";
    private readonly ConcurrentQueue<AuthContext> _seen = new();
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("AuthContextTests CA");
    private X509Certificate2 _serverCertificate = null!;
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        using X509Certificate2 created = LocalhostCertificate.Create();
        _serverCertificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        string caThumbprint = _ca.Certificate.Thumbprint;
        _server = await TestServer.StartAsync(
            o => o.Authorize = context =>
            {
                _seen.Enqueue(context.AuthContext);
                return context.RequestHeaders.TryGetValue("x-refuse", out string? why) ? new RpcException(StatusCode.PermissionDenied, why) : null;
            },
            tlsCertificate: _serverCertificate,
            https: h =>
            {
                h.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                h.CheckCertificateRevocation = false;
                h.ClientCertificateValidation = (c, _, _) => c.Issuer == _ca.Certificate.Subject;
            });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _serverCertificate.Dispose();
        _ca.Dispose();
    }

    [Fact]
    public async Task A_call_over_the_unix_socket_is_local()
    {
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(_server.SocketPath);

        await channel.UnaryAsync(Echo, new EchoRequest(), EchoResponse.Parser);

        AuthContext auth = Assert.Single(_seen);
        Assert.Equal(CallTransport.Local, auth.Transport);
        Assert.False(auth.IsPeerAuthenticated);
    }

    [Fact]
    public async Task A_call_over_tcp_without_tls_is_insecure_and_unauthenticated()
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(new Uri($"http://127.0.0.1:{_server.TcpPort}"));

        await channel.UnaryAsync(Echo, new EchoRequest(), EchoResponse.Parser);

        AuthContext auth = Assert.Single(_seen);
        Assert.Equal(CallTransport.Insecure, auth.Transport);
        Assert.False(auth.IsPeerAuthenticated);
        Assert.Null(auth.PeerIdentity);
    }

    [Fact]
    public async Task A_call_over_tls_without_a_client_certificate_is_unauthenticated()
    {
        using GrpcChannel channel = Tls(clientCertificate: null);

        await channel.UnaryAsync(Echo, new EchoRequest(), EchoResponse.Parser);

        AuthContext auth = Assert.Single(_seen);
        Assert.Equal(CallTransport.Tls, auth.Transport);
        Assert.False(auth.IsPeerAuthenticated);
    }

    [Fact]
    public async Task A_call_over_tls_with_an_accepted_client_certificate_carries_its_subject()
    {
        using X509Certificate2 client = _ca.Issue("operator-1");
        using GrpcChannel channel = Tls(client);

        await channel.UnaryAsync(Echo, new EchoRequest(), EchoResponse.Parser);

        AuthContext auth = Assert.Single(_seen);
        Assert.Equal(CallTransport.Tls, auth.Transport);
        Assert.True(auth.IsPeerAuthenticated);
        Assert.Equal("CN=operator-1", auth.PeerIdentity);
    }

    [Fact]
    public async Task grpc_js_presents_a_client_certificate_over_tls()
    {
        using X509Certificate2 client = _ca.Issue("grpc-js-peer");
        using ECDsa key = client.GetECDsaPrivateKey()!;
        var spec = JsonSpec.Of($"localhost:{_server.TlsPort}", "Echo");
        spec["tls"] = new JsonObject
        {
            ["ca"] = _serverCertificate.ExportCertificatePem(),
            ["cert"] = client.ExportCertificatePem(),
            ["key"] = key.ExportPkcs8PrivateKeyPem(),
        };

        NodeCallResult result = await NodePeer.CallAsync(spec);

        Assert.Equal(StatusCode.OK, result.Code);
        AuthContext auth = Assert.Single(_seen);
        Assert.Equal("CN=grpc-js-peer", auth.PeerIdentity);
    }

    [Fact]
    public async Task A_call_refused_by_authorize_ends_with_its_status_and_its_handler_never_runs()
    {
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(_server.SocketPath);

        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync("/aifactory.test.v1.TestService/Fail",
            new FailRequest { Code = (int)StatusCode.Internal, Message = "the handler ran" }, EchoResponse.Parser,
            new CallOptions(Headers: new Dictionary<string, string> { ["x-refuse"] = "not for you" })));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Equal("not for you", ex.Detail);
        var calls = await _server.WaitForCallsAsync(1);
        Assert.Equal(("/aifactory.test.v1.TestService/Fail", StatusCode.PermissionDenied), (calls[0].Method, calls[0].Code));
    }

    [Fact]
    public void Only_a_tls_transport_names_a_peer()
    {
        Assert.Throws<ArgumentException>(() => new AuthContext(CallTransport.Insecure, "CN=someone"));
        Assert.Throws<ArgumentException>(() => new AuthContext(CallTransport.Local, "CN=someone"));
    }

    private GrpcChannel Tls(X509Certificate2? clientCertificate) =>
        GrpcChannel.ForAddress(new Uri($"https://localhost:{_server.TlsPort}"), new GrpcChannelOptions
        {
            TrustedCertificateAuthorities = [X509CertificateLoader.LoadCertificate(_serverCertificate.RawData)],
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
        });
}
