using System.Net;
using System.Security.Cryptography.X509Certificates;
using AiFactory.Agent.Configuration;
using AiFactory.Agent.Hosting.Tls;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Tests.Hosting.Tls;

/// <summary>
/// <c>tls.client-crl</c> re-read when it changes: a good new file is used for the next handshake, a bad one keeps
/// the lists in use and is logged once. Each test looks at the file itself (<see cref="ClientCertificateRevocationFile.Check"/>)
/// instead of waiting for the timer.
/// </summary>
public sealed class ClientCertificateRevocationFileTests : IDisposable
{
    private static readonly IPEndPoint Peer = new(IPAddress.Parse("192.0.2.7"), 50123);
    private readonly TempDirectory _dir = new();
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("clients");
    private readonly RecordingLogger<ClientCertificateRevocationFile> _log = new();
    private readonly X509Certificate2Collection _authorities;
    private readonly string _crl;

    public ClientCertificateRevocationFileTests()
    {
        _authorities = [X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData)];
        _crl = Path.Combine(_dir.Path, "clients.crl");
    }

    public void Dispose()
    {
        _ca.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void A_crl_renamed_over_the_file_revokes_a_certificate_at_the_next_handshake()
    {
        using X509Certificate2 operatorCertificate = _ca.Issue("operator");
        using ClientCertificateRevocationFile file = Start(_ca.RevocationList([]));
        var validator = new ClientCertificateValidator(_authorities, _log, file);
        bool before = validator.Validate(operatorCertificate, presented: null, Peer);

        Replace(TestCertificateAuthority.Pem(_ca.RevocationList([operatorCertificate])));
        bool reloaded = file.Check();

        Assert.True(before);
        Assert.True(reloaded);
        Assert.False(validator.Validate(operatorCertificate, presented: null, Peer));
        Assert.Null(file.ReloadProblem);
        (LogLevel level, int id, string message) = Assert.Single(_log.Entries, e => e.EventId == EventIds.ClientCertificateRevocationReloaded);
        Assert.Equal(LogLevel.Information, level);
        Assert.StartsWith($"tls.client-crl {_crl} reloaded: 1 CRL(s) revoking 1 certificate(s), next update due ", message, StringComparison.Ordinal);
        Assert.Contains(_log.Entries, e => e.Message.Contains($"(serial {operatorCertificate.SerialNumber}) is revoked by tls.client-crl {_crl}", StringComparison.Ordinal));
        Assert.Equal(EventIds.ClientCertificateRevocationReloaded, id);
    }

    [Fact]
    public void A_crl_rewritten_in_place_is_taken_too()
    {
        using X509Certificate2 operatorCertificate = _ca.Issue("operator");
        using ClientCertificateRevocationFile file = Start(_ca.RevocationList([]));

        File.WriteAllBytes(_crl, _ca.RevocationList([operatorCertificate]));

        Assert.True(file.Check());
        Assert.True(Assert.Single(file.Current.Lists).Revokes(operatorCertificate));
    }

    [Fact]
    public void An_unchanged_file_is_not_read_again()
    {
        using ClientCertificateRevocationFile file = Start(_ca.RevocationList([]));
        ClientCertificateRevocation first = file.Current;

        bool reloaded = file.Check() | file.Check();

        Assert.False(reloaded);
        Assert.Same(first, file.Current);
        Assert.Empty(_log.Entries);
    }

    [Fact]
    public void Garbage_replacing_the_file_keeps_the_last_good_lists_and_is_logged_once_as_an_error()
    {
        using X509Certificate2 former = _ca.Issue("former-operator");
        using ClientCertificateRevocationFile file = Start(_ca.RevocationList([former]));
        ClientCertificateRevocation good = file.Current;

        Replace("<html>502 Bad Gateway</html>\n");
        bool first = file.Check();
        bool second = file.Check();

        Assert.False(first || second);
        Assert.Same(good, file.Current);
        Assert.True(Assert.Single(file.Current.Lists).Revokes(former));
        Assert.Equal("holds no CRL: neither DER nor PEM with -----BEGIN X509 CRL-----", file.ReloadProblem);
        (LogLevel level, int id, string message) = Assert.Single(_log.Entries);
        Assert.Equal(LogLevel.Error, level);
        Assert.Equal(EventIds.ClientCertificateRevocationReloadRefused, id);
        Assert.StartsWith($"tls.client-crl {_crl} changed but cannot be used: holds no CRL: neither DER nor PEM with -----BEGIN X509 CRL-----; the CRLs loaded ", message, StringComparison.Ordinal);
        Assert.EndsWith(" stay in use until a valid file replaces it", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_good_file_after_a_bad_one_is_taken_and_clears_the_problem()
    {
        using X509Certificate2 former = _ca.Issue("former-operator");
        using ClientCertificateRevocationFile file = Start(_ca.RevocationList([]));
        Replace("not a crl\n");
        file.Check();

        Replace(TestCertificateAuthority.Pem(_ca.RevocationList([former])));

        Assert.True(file.Check());
        Assert.Null(file.ReloadProblem);
        Assert.True(Assert.Single(file.Current.Lists).Revokes(former));
    }

    [Fact]
    public void A_crl_signed_by_another_key_keeps_the_last_good_lists()
    {
        using TestCertificateAuthority impostor = TestCertificateAuthority.Create("clients");
        using ClientCertificateRevocationFile file = Start(_ca.RevocationList([]));
        ClientCertificateRevocation good = file.Current;

        Replace(TestCertificateAuthority.Pem(impostor.RevocationList([])));

        Assert.False(file.Check());
        Assert.Same(good, file.Current);
        Assert.Equal("the CRL from \"CN=clients\": its signature does not verify with the CA's public key; it must be signed by that CA in tls.client-ca", file.ReloadProblem);
    }

    [Fact]
    public void A_new_file_that_leaves_a_ca_without_a_crl_keeps_the_last_good_lists_naming_that_ca()
    {
        using TestCertificateAuthority second = TestCertificateAuthority.Create("more clients");
        X509Certificate2Collection both = [X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData), X509CertificateLoader.LoadCertificate(second.Certificate.RawData)];
        File.WriteAllText(_crl, TestCertificateAuthority.Pem(_ca.RevocationList([])) + TestCertificateAuthority.Pem(second.RevocationList([])));
        using var file = new ClientCertificateRevocationFile(ClientCertificateRevocationLists.Load("test", "tls.client-crl", _crl, both), both, _log, interval: Timeout.InfiniteTimeSpan);

        Replace(TestCertificateAuthority.Pem(_ca.RevocationList([])));

        Assert.False(file.Check());
        Assert.Equal(2, file.Current.Lists.Count);
        Assert.StartsWith("holds no CRL from \"CN=more clients\", a certificate authority in tls.client-ca", file.ReloadProblem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_out_of_date_new_file_keeps_the_last_good_lists()
    {
        using ClientCertificateRevocationFile file = Start(_ca.RevocationList([]));
        ClientCertificateRevocation good = file.Current;

        Replace(TestCertificateAuthority.Pem(_ca.RevocationList([], nextUpdate: DateTimeOffset.UtcNow.AddHours(-1), thisUpdate: DateTimeOffset.UtcNow.AddHours(-2))));

        Assert.False(file.Check());
        Assert.Same(good, file.Current);
        Assert.StartsWith("the CRL from \"CN=clients\" is out of date (nextUpdate ", file.ReloadProblem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_removed_file_keeps_the_last_good_lists_and_is_logged_once()
    {
        using ClientCertificateRevocationFile file = Start(_ca.RevocationList([]));
        ClientCertificateRevocation good = file.Current;

        File.Delete(_crl);
        file.Check();
        file.Check();

        Assert.Same(good, file.Current);
        Assert.Equal("file does not exist", file.ReloadProblem);
        Assert.Single(_log.Entries, e => e.Level == LogLevel.Error);
    }

    [Fact]
    public void Lists_in_use_that_go_out_of_date_are_logged_once()
    {
        using ClientCertificateRevocationFile file = Start(_ca.RevocationList([], nextUpdate: DateTimeOffset.UtcNow.AddHours(-1), thisUpdate: DateTimeOffset.UtcNow.AddHours(-2)));

        file.Check();
        file.Check();

        (LogLevel level, int id, string message) = Assert.Single(_log.Entries);
        Assert.Equal(LogLevel.Error, level);
        Assert.Equal(EventIds.ClientCertificateRevocationOutOfDate, id);
        Assert.StartsWith($"tls.client-crl {_crl} from \"CN=clients\" is out of date (nextUpdate ", message, StringComparison.Ordinal);
    }

    private ClientCertificateRevocationFile Start(byte[] der)
    {
        File.WriteAllBytes(_crl, der);
        return new ClientCertificateRevocationFile(ClientCertificateRevocationLists.Load("test", "tls.client-crl", _crl, _authorities), _authorities, _log, interval: Timeout.InfiniteTimeSpan);
    }

    /// <summary>What a CRL rotation job does: write a new file beside the old one, then rename it over.</summary>
    private void Replace(string content)
    {
        string next = _crl + ".new";
        File.WriteAllText(next, content);
        File.Move(next, _crl, overwrite: true);
    }
}
