using System.Security.Cryptography.X509Certificates;
using AiFactory.Agent.Configuration;
using AiFactory.Tests.Shared;

namespace AiFactory.Agent.Tests.Configuration;

// tls.client-crl: a CRL of a tls.client-ca CA, PEM or DER; anything else exits 78 naming key, file and why.
public sealed partial class TlsClientCaTests
{
    [Fact]
    public void A_pem_crl_under_tls_is_loaded_with_its_issuer_and_entries()
    {
        using X509Certificate2 revoked = _ca.Issue("former-operator");
        string crl = _dir.File("clients.crl", TestCertificateAuthority.Pem(_ca.RevocationList([revoked])));
        string config = _dir.File("agent.yaml", $"tls:\n  client-ca: {ClientCa()}\n  client-crl: {crl}\n");

        AgentOptions options = AgentOptionsLoader.Load(config, NoFlags, NoEnvironment);

        Assert.Equal(crl, options.TlsClientCrl);
        var list = Assert.Single(options.ClientCertificateRevocation!.Lists);
        Assert.Equal("CN=clients", list.Issuer.Name);
        Assert.Equal(1, list.Count);
        Assert.True(list.Revokes(revoked));
    }

    [Fact]
    public void A_der_crl_is_loaded_too()
    {
        string crl = DerFile(_ca.RevocationList([]));

        AgentOptions options = LoadWithCrl(crl);

        Assert.Equal(0, Assert.Single(options.ClientCertificateRevocation!.Lists).Count);
    }

    [Fact]
    public void A_crl_whose_signature_does_not_verify_against_the_client_ca_is_refused()
    {
        // Same name, another key: what a forged or mixed-up list looks like.
        using TestCertificateAuthority impostor = TestCertificateAuthority.Create("clients");
        string crl = DerFile(impostor.RevocationList([]));

        var ex = Assert.Throws<ConfigurationException>(() => LoadWithCrl(crl));

        Assert.Equal("tls.client-crl", ex.Key);
        Assert.Equal($"command line --tls-client-crl: tls.client-crl: invalid value \"{crl}\": the CRL from \"CN=clients\": its signature does not verify with the CA's public key; it must be signed by that CA in tls.client-ca", ex.Message);
    }

    [Fact]
    public void A_crl_of_another_ca_is_refused()
    {
        using TestCertificateAuthority other = TestCertificateAuthority.Create("someone else");
        string crl = DerFile(other.RevocationList([]));

        var ex = Assert.Throws<ConfigurationException>(() => LoadWithCrl(crl));

        Assert.EndsWith("the CRL from \"CN=someone else\" is not issued by a certificate authority in tls.client-ca", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_no_crl_is_refused()
    {
        string notPem = _dir.File("notes.crl", "revoked: operator-7\n");
        string truncated = DerFile(_ca.RevocationList([])[..40]);

        var text = Assert.Throws<ConfigurationException>(() => LoadWithCrl(notPem));
        var der = Assert.Throws<ConfigurationException>(() => LoadWithCrl(truncated));

        Assert.EndsWith("holds no CRL: neither DER nor PEM with -----BEGIN X509 CRL-----", text.Message, StringComparison.Ordinal);
        Assert.Contains("CRL 1: it is not a DER X.509 CRL: ", der.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_crl_without_client_ca_is_refused()
    {
        string crl = DerFile(_ca.RevocationList([]));
        var flags = new Dictionary<string, string> { ["tls-client-crl"] = crl };

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("agent.yaml", string.Empty), flags, NoEnvironment));

        Assert.Equal($"command line --tls-client-crl: tls.client-crl: invalid value \"{crl}\": revokes client certificates, but tls.client-ca (the CAs that issue them, and this list) is not set", ex.Message);
    }

    [Fact]
    public void An_out_of_date_crl_is_loaded_so_that_the_listener_refuses_rather_than_the_agent_not_starting()
    {
        string crl = DerFile(_ca.RevocationList([], nextUpdate: DateTimeOffset.UtcNow.AddHours(-1), thisUpdate: DateTimeOffset.UtcNow.AddHours(-2)));

        AgentOptions options = LoadWithCrl(crl);

        Assert.True(Assert.Single(options.ClientCertificateRevocation!.Lists).NextUpdate < DateTimeOffset.UtcNow);
    }

    [Fact]
    public void A_ca_in_client_ca_without_a_crl_in_the_file_is_refused_naming_that_ca()
    {
        using TestCertificateAuthority second = TestCertificateAuthority.Create("more clients");
        string bundle = _dir.File("clients-ca.pem", _ca.CertificatePem + "\n" + second.CertificatePem);
        string crl = DerFile(_ca.RevocationList([]));
        var flags = new Dictionary<string, string> { ["tls-client-ca"] = bundle, ["tls-client-crl"] = crl };

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("agent.yaml", string.Empty), flags, NoEnvironment));

        Assert.Equal("tls.client-crl", ex.Key);
        Assert.Equal(
            $"command line --tls-client-crl: tls.client-crl: invalid value \"{crl}\": holds no CRL from \"CN=more clients\", a certificate authority in tls.client-ca; " +
            "every one of them needs its current CRL in this file (an empty one if it has revoked nothing), or the certificates it issued are refused", ex.Message);
    }

    [Fact]
    public void A_pem_file_with_a_crl_for_each_ca_in_the_bundle_is_loaded()
    {
        using TestCertificateAuthority second = TestCertificateAuthority.Create("more clients");
        string bundle = _dir.File("clients-ca.pem", _ca.CertificatePem + "\n" + second.CertificatePem);
        string crl = _dir.File("clients.crl", TestCertificateAuthority.Pem(_ca.RevocationList([])) + TestCertificateAuthority.Pem(second.RevocationList([])));
        var flags = new Dictionary<string, string> { ["tls-client-ca"] = bundle, ["tls-client-crl"] = crl };

        AgentOptions options = AgentOptionsLoader.Load(_dir.File("agent.yaml", string.Empty), flags, NoEnvironment);

        Assert.Equal(["CN=clients", "CN=more clients"], options.ClientCertificateRevocation!.Lists.Select(l => l.Issuer.Name));
    }

    private string ClientCa() => _dir.File("clients-ca.pem", _ca.CertificatePem);

    private string DerFile(byte[] der)
    {
        string path = Path.Combine(_dir.Path, "clients.crl");
        File.WriteAllBytes(path, der);
        return path;
    }

    private AgentOptions LoadWithCrl(string crl) =>
        AgentOptionsLoader.Load(_dir.File("agent.yaml", string.Empty), new Dictionary<string, string> { ["tls-client-ca"] = ClientCa(), ["tls-client-crl"] = crl }, NoEnvironment);
}
