using System.Net;
using System.Security.Cryptography.X509Certificates;
using AiFactory.Agent.Hosting.Tls;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Tests.Hosting.Tls;

/// <summary>Which client certificates the TCP listener accepts with <c>tls.client-ca</c>, and the log line of a refusal.</summary>
public sealed class ClientCertificateValidatorTests : IDisposable
{
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("192.0.2.7"), 50123);
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("clients");
    private readonly TestCertificateAuthority _other = TestCertificateAuthority.Create("someone else");
    private readonly RecordingLogger<ClientCertificateValidator> _log = new();
    private readonly ClientCertificateValidator _validator;

    public ClientCertificateValidatorTests() => _validator = new ClientCertificateValidator([X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData)], _log);

    public void Dispose()
    {
        _ca.Dispose();
        _other.Dispose();
    }

    [Fact]
    public void A_certificate_signed_by_the_configured_ca_is_accepted()
    {
        using X509Certificate2 client = _ca.Issue("operator");

        Assert.True(_validator.Validate(client, presented: null, Peer));
        Assert.DoesNotContain(_log.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public void A_certificate_the_crl_revokes_is_refused_and_logged_with_its_serial_and_subject()
    {
        using X509Certificate2 revoked = _ca.Issue("former-operator");
        using X509Certificate2 current = _ca.Issue("operator");
        ClientCertificateValidator validator = WithCrl(_ca.RevocationList([revoked]));

        Assert.False(validator.Validate(revoked, presented: null, Peer));
        Assert.True(validator.Validate(current, presented: null, Peer));

        (LogLevel level, _, string message) = Assert.Single(_log.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Equal($"TLS client 192.0.2.7:50123 refused: certificate subject \"CN=former-operator\", issuer \"CN=clients\": the client certificate (serial {revoked.SerialNumber}) is revoked by tls.client-crl /etc/aifactory/tls/clients.crl", message);
    }

    [Fact]
    public void An_out_of_date_crl_refuses_every_certificate_of_its_ca_saying_so()
    {
        using X509Certificate2 client = _ca.Issue("operator");
        ClientCertificateValidator validator = WithCrl(_ca.RevocationList([], nextUpdate: DateTimeOffset.UtcNow.AddHours(-1), thisUpdate: DateTimeOffset.UtcNow.AddHours(-2)));

        string? problem = validator.Problem(client, presented: null);

        Assert.NotNull(problem);
        Assert.StartsWith("tls.client-crl /etc/aifactory/tls/clients.crl from \"CN=clients\" is out of date (nextUpdate ", problem, StringComparison.Ordinal);
        Assert.EndsWith("so every certificate that CA issued is refused until a current CRL is installed there (the agent reloads the file when it changes)", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_from_an_intermediate_ca_without_a_crl_is_refused_naming_that_ca()
    {
        using TestCertificateAuthority intermediate = _ca.IssueAuthority("team clients");
        using X509Certificate2 client = intermediate.Issue("operator");
        using var presented = new X509Chain();
        presented.ChainPolicy.ExtraStore.Add(X509CertificateLoader.LoadCertificate(intermediate.Certificate.RawData));

        string? withoutCrl = _validator.Problem(client, presented);
        string? withCrl = WithCrl(_ca.RevocationList([])).Problem(client, presented);

        Assert.Null(withoutCrl);
        Assert.Equal("tls.client-crl /etc/aifactory/tls/clients.crl holds no CRL from \"CN=team clients\", which issued the client certificate, so it cannot be checked for revocation and is refused", withCrl);
    }

    [Fact]
    public void A_crl_does_not_let_in_a_certificate_of_another_ca()
    {
        using X509Certificate2 client = _other.Issue("intruder");

        Assert.Contains("not signed by a certificate authority in tls.client-ca", WithCrl(_ca.RevocationList([])).Problem(client, presented: null), StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_without_extended_key_usage_is_accepted()
    {
        using X509Certificate2 client = _ca.Issue("operator", usages: []);

        Assert.Null(_validator.Problem(client, presented: null));
    }

    [Fact]
    public void A_certificate_from_another_ca_is_refused_and_the_refusal_logged_with_peer_subject_and_reason()
    {
        using X509Certificate2 client = _other.Issue("intruder");

        Assert.False(_validator.Validate(client, presented: null, Peer));

        (LogLevel level, _, string message) = Assert.Single(_log.Entries);
        Assert.Equal(LogLevel.Warning, level);
        Assert.StartsWith("TLS client 192.0.2.7:50123 refused: certificate subject \"CN=intruder\", issuer \"CN=someone else\": ", message, StringComparison.Ordinal);
        Assert.Contains("not signed by a certificate authority in tls.client-ca", message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_ca_itself_presented_as_a_client_certificate_is_not_trusted_through_the_system_roots_or_self_signature()
    {
        using X509Certificate2 selfSigned = _other.Certificate;

        Assert.NotNull(_validator.Problem(X509CertificateLoader.LoadCertificate(selfSigned.RawData), presented: null));
    }

    [Fact]
    public void A_certificate_for_servers_only_is_refused()
    {
        using X509Certificate2 server = _ca.Issue("a-server", usages: [TestCertificateAuthority.ServerAuthentication]);

        string? problem = _validator.Problem(server, presented: null);

        Assert.NotNull(problem);
        Assert.Contains("NotValidForUsage", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_expired_certificate_is_refused()
    {
        using X509Certificate2 expired = _ca.Issue("late", notAfter: DateTimeOffset.UtcNow.AddMinutes(-1));

        string? problem = _validator.Problem(expired, presented: null);

        Assert.NotNull(problem);
        Assert.Contains("NotTimeValid", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void No_certificate_at_all_is_refused_and_logged()
    {
        Assert.False(_validator.Validate(null, presented: null, Peer));

        Assert.Contains("no client certificate was presented", Assert.Single(_log.Entries).Message, StringComparison.Ordinal);
    }

    private ClientCertificateValidator WithCrl(byte[] der)
    {
        X509Certificate2Collection authorities = [X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData)];
        var file = new ClientCertificateRevocationFile(
            new ClientCertificateRevocation("/etc/aifactory/tls/clients.crl", [CertificateRevocationList.Parse(der)]), authorities, _log, interval: Timeout.InfiniteTimeSpan);
        return new(authorities, _log, file);
    }
}
