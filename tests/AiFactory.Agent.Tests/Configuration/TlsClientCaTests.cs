using AiFactory.Agent.Configuration;
using AiFactory.Tests.Shared;

namespace AiFactory.Agent.Tests.Configuration;

/// <summary><c>tls.client-ca</c> (and <c>tls.client-crl</c>, in the .Crl part): where it may be given, and what makes it invalid (exit 78 with the key, the value and why).</summary>
public sealed partial class TlsClientCaTests : IDisposable
{
    private static readonly Dictionary<string, string> NoFlags = [];
    private static readonly Dictionary<string, string?> NoEnvironment = [];
    private readonly TempDirectory _dir = new();
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("clients");

    public void Dispose()
    {
        _ca.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void A_bundle_of_cas_under_tls_is_loaded()
    {
        using TestCertificateAuthority second = TestCertificateAuthority.Create("more clients");
        string bundle = _dir.File("clients-ca.pem", _ca.CertificatePem + "\n" + second.CertificatePem);
        string config = _dir.File("agent.yaml", $"tls:\n  client-ca: {bundle}\n");

        AgentOptions options = AgentOptionsLoader.Load(config, NoFlags, NoEnvironment);

        Assert.Equal(bundle, options.TlsClientCa);
        Assert.Equal(["CN=clients", "CN=more clients"], options.ClientCertificateAuthorities!.Select(c => c.Subject));
    }

    [Fact]
    public void The_environment_and_the_flag_override_the_file()
    {
        string fromFile = _dir.File("file-ca.pem", _ca.CertificatePem);
        string fromFlag = _dir.File("flag-ca.pem", _ca.CertificatePem);
        string config = _dir.File("agent.yaml", $"tls:\n  client-ca: {fromFile}\n");

        AgentOptions byEnvironment = AgentOptionsLoader.Load(config, NoFlags, new Dictionary<string, string?> { ["AIFACTORY_TLS_CLIENT_CA"] = fromFlag });
        AgentOptions byFlag = AgentOptionsLoader.Load(config, new Dictionary<string, string> { ["tls-client-ca"] = fromFlag }, NoEnvironment);

        Assert.Equal(fromFlag, byEnvironment.TlsClientCa);
        Assert.Equal(fromFlag, byFlag.TlsClientCa);
    }

    [Fact]
    public void Client_ca_outside_tls_is_an_unknown_key()
    {
        string config = _dir.File("agent.yaml", $"client-ca: /etc/aifactory/tls/clients-ca.pem\n");

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(config, NoFlags, NoEnvironment));

        Assert.Equal("client-ca", ex.Key);
        Assert.Contains("tls.client-ca", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_client_certificate_in_place_of_a_ca_is_refused_with_its_subject()
    {
        using var client = _ca.Issue("operator-7");
        string pem = _dir.File("not-a-ca.pem", client.ExportCertificatePem());

        var ex = Assert.Throws<ConfigurationException>(() => Load(pem));

        Assert.Equal("tls.client-ca", ex.Key);
        Assert.Equal($"command line --tls-client-ca: tls.client-ca: invalid value \"{pem}\": certificate 1 of 1 (subject \"CN=operator-7\") is not a certificate authority (basicConstraints CA:TRUE); list the CAs that sign the client certificates, not the client certificates", ex.Message);
    }

    [Fact]
    public void A_file_without_certificates_is_refused()
    {
        string pem = _dir.File("empty.pem", "# nothing here\n");

        var ex = Assert.Throws<ConfigurationException>(() => Load(pem));

        Assert.EndsWith("holds no PEM certificate (-----BEGIN CERTIFICATE-----)", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tls-client-ca", "/dev/zero", "is not a regular file")]
    [InlineData("tls-client-ca", "/", "is a directory")]
    [InlineData("tls-client-ca", "/nonexistent/clients-ca.pem", "file does not exist")]
    [InlineData("tls-client-ca", "relative/clients-ca.pem", "must be an absolute path")]
    [InlineData("tls-client-crl", "/dev/zero", "is not a regular file")]
    [InlineData("tls-client-crl", "/", "is a directory")]
    [InlineData("tls-client-crl", "/nonexistent/clients.crl", "file does not exist")]
    [InlineData("tls-client-crl", "relative/clients.crl", "must be an absolute path")]
    public void Only_a_regular_file_at_an_absolute_path_is_read_for_client_ca_and_client_crl(string flag, string path, string reason)
    {
        var flags = new Dictionary<string, string> { ["tls-client-ca"] = ClientCa(), [flag] = path };

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("agent.yaml", string.Empty), flags, NoEnvironment));

        Assert.Equal(flag.Replace("tls-", "tls.", StringComparison.Ordinal), ex.Key);
        Assert.EndsWith(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_over_a_mebibyte_is_refused()
    {
        string pem = _dir.File("huge.pem", _ca.CertificatePem + new string('#', 1024 * 1024));

        var ex = Assert.Throws<ConfigurationException>(() => Load(pem));

        Assert.EndsWith("is larger than 1 MiB", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Client_certificates_on_a_plaintext_listener_are_a_contradiction()
    {
        string pem = _dir.File("clients-ca.pem", _ca.CertificatePem);
        var flags = new Dictionary<string, string> { ["tls-client-ca"] = pem, ["listen"] = "127.0.0.1:7443", ["listen-plaintext"] = "true" };

        var ex = Assert.Throws<ConfigurationException>(() => AgentOptionsLoader.Load(_dir.File("agent.yaml", string.Empty), flags, NoEnvironment));

        Assert.Equal("tls.client-ca", ex.Key);
        Assert.Contains("listen-plaintext", ex.Message, StringComparison.Ordinal);
    }

    private AgentOptions Load(string clientCa) =>
        AgentOptionsLoader.Load(_dir.File("agent.yaml", string.Empty), new Dictionary<string, string> { ["tls-client-ca"] = clientCa }, NoEnvironment);
}
