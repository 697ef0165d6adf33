using AiFactory.Agent.Api.Access;
using AiFactory.Grpc;
using AiFactory.Grpc.Services;

namespace AiFactory.Agent.Tests.Api.Access;

public sealed class CallAuthorizerTests
{
    private const string Apply = "/aifactory.agent.v1.Profile/ApplyProfile";
    private const string Inventory = "/aifactory.agent.v1.Inventory/GetInventory";
    private static readonly AuthContext TlsAnonymous = new(CallTransport.Tls, peerIdentity: null);
    private static readonly AuthContext TlsOperator = new(CallTransport.Tls, "CN=operator");

    [Theory]
    [InlineData(Apply)]
    [InlineData(Inventory)]
    [InlineData("/aifactory.agent.v1.Future/Unclassified")]
    public void The_unix_socket_may_call_everything(string method) =>
        Assert.Null(new CallAuthorizer(clientCertificatesConfigured: false).Authorize(Context(method, AuthContext.Local)));

    [Fact]
    public void Without_client_certificates_tcp_reads()
    {
        Assert.Null(new CallAuthorizer(false).Authorize(Context(Inventory, TlsAnonymous)));
        Assert.Null(new CallAuthorizer(false).Authorize(Context("/grpc.health.v1.Health/Check", AuthContext.Insecure)));
    }

    [Fact]
    public void Without_client_certificates_a_tcp_call_that_changes_the_node_is_denied_saying_they_are_not_configured()
    {
        RpcException? refused = new CallAuthorizer(clientCertificatesConfigured: false).Authorize(Context(Apply, TlsAnonymous));

        Assert.NotNull(refused);
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.StartsWith($"{Apply} changes this node; client certificates are not configured on this agent (tls.client-ca)", refused.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plaintext_tcp_call_that_changes_the_node_is_denied_saying_there_is_no_tls()
    {
        RpcException? refused = new CallAuthorizer(false).Authorize(Context("/aifactory.agent.v1.Leases/Release", AuthContext.Insecure));

        Assert.Equal(StatusCode.PermissionDenied, refused?.StatusCode);
        Assert.Contains("has no TLS (listen-plaintext)", refused!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_method_missing_from_the_table_is_denied_over_tcp_even_if_it_only_reads()
    {
        RpcException? refused = new CallAuthorizer(false).Authorize(Context("/aifactory.agent.v1.Future/Unclassified", TlsAnonymous));

        Assert.Equal(StatusCode.PermissionDenied, refused?.StatusCode);
        Assert.Contains("is not classified as read-only", refused!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_client_with_a_validated_certificate_may_call_everything()
    {
        var authorizer = new CallAuthorizer(clientCertificatesConfigured: true);

        Assert.Null(authorizer.Authorize(Context(Apply, TlsOperator)));
        Assert.Null(authorizer.Authorize(Context(Inventory, TlsOperator)));
    }

    [Fact]
    public void With_client_certificates_configured_a_tls_call_without_one_is_unauthenticated()
    {
        RpcException? refused = new CallAuthorizer(clientCertificatesConfigured: true).Authorize(Context(Apply, TlsAnonymous));

        Assert.Equal(StatusCode.Unauthenticated, refused?.StatusCode);
    }

    private static ServerCallContext Context(string method, AuthContext auth) =>
        new(method, DateTime.MaxValue, new Dictionary<string, string>(), "test", auth, CancellationToken.None);
}
