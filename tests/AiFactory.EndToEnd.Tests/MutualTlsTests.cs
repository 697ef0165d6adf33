using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AiFactory.Tests.Shared;

namespace AiFactory.EndToEnd.Tests;

/// <summary>
/// The agent's TCP listener with aifactoryctl as the client: without <c>tls.client-ca</c> it serves reads and refuses
/// every call that changes the node; with it, the TLS handshake refuses a client without a certificate from those CAs,
/// and a client with one may change the node. The Unix socket serves everything either way.
/// </summary>
public sealed class MutualTlsTests : IDisposable
{
    private readonly string _dir = AgentUnderTest.PrepareDirectory();
    private readonly TestCertificateAuthority _clients = TestCertificateAuthority.Create("aifactory clients");
    private readonly TestCertificateAuthority _stranger = TestCertificateAuthority.Create("someone else");
    private readonly string _serverCertificate;
    private readonly string _serverKey;

    public MutualTlsTests()
    {
        using X509Certificate2 server = LocalhostCertificate.Create();
        using ECDsa key = server.GetECDsaPrivateKey()!;
        _serverCertificate = Path.Combine(_dir, "agent.crt");
        _serverKey = Path.Combine(_dir, "agent.key");
        File.WriteAllText(_serverCertificate, server.ExportCertificatePem());
        File.WriteAllText(_serverKey, key.ExportPkcs8PrivateKeyPem());
    }

    public void Dispose()
    {
        _clients.Dispose();
        _stranger.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Without_client_ca_tcp_serves_health_and_denies_a_release_saying_client_certificates_are_not_configured()
    {
        int port = FreePort();
        using AgentUnderTest agent = StartReady(port, clientCa: null);

        (int health, string healthOut, string healthError) = await Ctl(port, null, "health");
        (int release, _, string releaseError) = await Ctl(port, null, "lease", "release", "no-such-lease");
        (int local, _, string localError) = await RunningProcess.RunAsync(Binaries.Cli, ["lease", "release", "no-such-lease", "--socket", agent.Socket, "--timeout", "30"]);

        Assert.True(health == 0, healthError);
        Assert.Equal("SERVING", healthOut.Trim());
        Assert.Equal(1, release);
        Assert.StartsWith("aifactoryctl: PermissionDenied: /aifactory.agent.v1.Leases/Release changes this node; client certificates are not configured on this agent (tls.client-ca)", releaseError, StringComparison.Ordinal);
        Assert.Equal(1, local);
        Assert.DoesNotContain("PermissionDenied", localError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_client_ca_a_client_without_a_certificate_is_refused_at_the_handshake_and_logged()
    {
        int port = FreePort();
        using AgentUnderTest agent = StartReady(port, WriteClientCa());

        (int status, _, string stderr) = await Ctl(port, null, "health");

        Assert.True(status == 69, $"{status}: {stderr}");
        Assert.StartsWith("aifactoryctl: Unavailable: ", stderr, StringComparison.Ordinal);
        Assert.True(stderr.Contains("if the agent requires client certificates (tls.client-ca), give --cert and --key", StringComparison.Ordinal), stderr);
        await WaitForLogAsync(agent, "no client certificate was presented");
    }

    [Fact]
    public async Task With_client_ca_a_certificate_from_another_ca_is_refused_at_the_handshake_and_logged_with_its_subject()
    {
        int port = FreePort();
        using AgentUnderTest agent = StartReady(port, WriteClientCa());
        using X509Certificate2 intruder = _stranger.Issue("intruder");

        (int status, _, string stderr) = await Ctl(port, TestCertificateAuthority.WritePem(intruder, _dir, "intruder"), "health");

        Assert.True(status == 69, $"{status}: {stderr}");
        Assert.True(stderr.Contains("if the agent requires client certificates (tls.client-ca), give --cert and --key", StringComparison.Ordinal), stderr);
        string line = await WaitForLogAsync(agent, "CN=intruder");
        Assert.Contains("issuer \"CN=someone else\"", line, StringComparison.Ordinal);
        Assert.Contains("not signed by a certificate authority in tls.client-ca", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_client_ca_a_client_with_a_certificate_it_signed_may_change_the_node()
    {
        int port = FreePort();
        using AgentUnderTest agent = StartReady(port, WriteClientCa());
        using X509Certificate2 operatorCertificate = _clients.Issue("operator");
        (string Certificate, string Key) pem = TestCertificateAuthority.WritePem(operatorCertificate, _dir, "operator");

        (int health, string healthOut, string healthError) = await Ctl(port, pem, "health");
        (int release, _, string releaseError) = await Ctl(port, pem, "lease", "release", "no-such-lease");

        Assert.True(health == 0, healthError);
        Assert.Equal("SERVING", healthOut.Trim());

        // Past authorization: the agent looked for the lease.
        Assert.Equal(1, release);
        Assert.DoesNotContain("PermissionDenied", releaseError, StringComparison.Ordinal);
        Assert.DoesNotContain("Unauthenticated", releaseError, StringComparison.Ordinal);
        Assert.Contains("no-such-lease", releaseError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_client_crl_a_revoked_certificate_is_refused_at_the_handshake_and_logged_with_its_serial_while_an_unrevoked_one_is_served()
    {
        int port = FreePort();
        using X509Certificate2 former = _clients.Issue("former-operator");
        using X509Certificate2 current = _clients.Issue("operator");
        using AgentUnderTest agent = StartReady(port, WriteClientCa(), WriteCrl(TestCertificateAuthority.Pem(_clients.RevocationList([former]))));

        (int refused, _, string refusedError) = await Ctl(port, TestCertificateAuthority.WritePem(former, _dir, "former"), "health");
        (int served, string servedOut, string servedError) = await Ctl(port, TestCertificateAuthority.WritePem(current, _dir, "operator"), "health");

        Assert.True(refused == 69, $"{refused}: {refusedError}");
        Assert.True(refusedError.Contains("give --cert and --key", StringComparison.Ordinal), refusedError);
        string line = await WaitForLogAsync(agent, "CN=former-operator");
        Assert.Contains($"(serial {former.SerialNumber}) is revoked by tls.client-crl", line, StringComparison.Ordinal);
        Assert.Single(agent.Process.Stdout, l => l.Contains("CN=former-operator", StringComparison.Ordinal) && l.Contains("refused", StringComparison.Ordinal));
        Assert.True(served == 0, servedError);
        Assert.Equal("SERVING", servedOut.Trim());
    }

    [Fact]
    public async Task With_an_out_of_date_client_crl_every_certificate_of_its_ca_is_refused_saying_the_crl_is_out_of_date()
    {
        int port = FreePort();
        using X509Certificate2 current = _clients.Issue("operator");
        byte[] stale = _clients.RevocationList([], nextUpdate: DateTimeOffset.UtcNow.AddHours(-1), thisUpdate: DateTimeOffset.UtcNow.AddHours(-2));
        using AgentUnderTest agent = StartReady(port, WriteClientCa(), WriteCrl(TestCertificateAuthority.Pem(stale)));

        (int status, _, string stderr) = await Ctl(port, TestCertificateAuthority.WritePem(current, _dir, "operator"), "health");

        Assert.True(status == 69, $"{status}: {stderr}");
        string line = await WaitForLogAsync(agent, "CN=operator");
        Assert.Contains("from \"CN=aifactory clients\" is out of date (nextUpdate ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_revoked_in_a_crl_written_after_start_is_refused_once_the_agent_has_reloaded_it()
    {
        int port = FreePort();
        using X509Certificate2 operatorCertificate = _clients.Issue("operator");
        (string Certificate, string Key) pem = TestCertificateAuthority.WritePem(operatorCertificate, _dir, "operator");
        string crl = WriteCrl(TestCertificateAuthority.Pem(_clients.RevocationList([])));
        using AgentUnderTest agent = StartReady(port, WriteClientCa(), crl);
        (int before, _, string beforeError) = await Ctl(port, pem, "health");

        RenameOver(crl, TestCertificateAuthority.Pem(_clients.RevocationList([operatorCertificate])));
        string reloaded = await WaitForLogAsync(agent, $"tls.client-crl {crl} reloaded");
        (int after, _, string afterError) = await Ctl(port, pem, "health");

        Assert.True(before == 0, beforeError);
        Assert.Contains("1 CRL(s) revoking 1 certificate(s)", reloaded, StringComparison.Ordinal);
        Assert.True(after == 69, $"{after}: {afterError}");
        string line = await WaitForLogAsync(agent, $"(serial {operatorCertificate.SerialNumber}) is revoked by tls.client-crl {crl}");
        Assert.Contains("CN=operator", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Garbage_written_over_the_crl_keeps_the_crl_in_use_and_is_logged_once_naming_the_file()
    {
        int port = FreePort();
        using X509Certificate2 former = _clients.Issue("former-operator");
        using X509Certificate2 current = _clients.Issue("operator");
        string crl = WriteCrl(TestCertificateAuthority.Pem(_clients.RevocationList([former])));
        int metricsPort = FreePort();
        using AgentUnderTest agent = StartReady(port, WriteClientCa(), crl, metricsListen: $"127.0.0.1:{metricsPort}");
        using var http = new HttpClient { Timeout = AgentUnderTest.Patience };
        string metricsBefore = await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));

        RenameOver(crl, "<html>502 Bad Gateway</html>\n");
        string error = await WaitForLogAsync(agent, $"tls.client-crl {crl} changed but cannot be used");
        (int refused, _, string refusedError) = await Ctl(port, TestCertificateAuthority.WritePem(former, _dir, "former"), "health");
        (int served, string servedOut, string servedError) = await Ctl(port, TestCertificateAuthority.WritePem(current, _dir, "operator"), "health");
        string metricsAfter = await http.GetStringAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));

        Assert.Contains("holds no CRL: neither DER nor PEM with -----BEGIN X509 CRL-----; the CRLs loaded ", error, StringComparison.Ordinal);
        Assert.True(refused == 69, $"{refused}: {refusedError}");
        Assert.Contains($"(serial {former.SerialNumber}) is revoked by tls.client-crl {crl}", await WaitForLogAsync(agent, "CN=former-operator"), StringComparison.Ordinal);
        Assert.True(served == 0, servedError);
        Assert.Equal("SERVING", servedOut.Trim());
        Assert.Single(agent.Process.Stdout, l => l.Contains("changed but cannot be used", StringComparison.Ordinal));
        Assert.Contains("\naifactory_tls_client_crl_reload_success 1\n", metricsBefore, StringComparison.Ordinal);
        Assert.Contains("\naifactory_tls_client_crl_reload_success 0\n", metricsAfter, StringComparison.Ordinal);
        Assert.Contains("\naifactory_tls_client_crl_next_update_timestamp_seconds{issuer=\"CN=aifactory clients\"} ", metricsAfter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_ca_without_a_crl_in_the_client_crl_file_exits_78_naming_that_ca()
    {
        string bundle = Path.Combine(_dir, "clients-ca.pem");
        File.WriteAllText(bundle, _clients.CertificatePem + "\n" + _stranger.CertificatePem);
        string crl = WriteCrl(TestCertificateAuthority.Pem(_clients.RevocationList([])));
        List<string> args = AgentUnderTest.Arguments(_dir);
        args.AddRange(["--listen", "127.0.0.1:1", "--tls-certificate", _serverCertificate, "--tls-key", _serverKey, "--tls-client-ca", bundle, "--tls-client-crl", crl]);

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, args);

        Assert.Equal(78, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal(
            $"aifactory-agent: invalid configuration: command line --tls-client-crl: tls.client-crl: invalid value \"{crl}\": holds no CRL from \"CN=someone else\", a certificate authority in tls.client-ca; " +
            "every one of them needs its current CRL in this file (an empty one if it has revoked nothing), or the certificates it issued are refused", stderr);
    }

    [Fact]
    public async Task A_client_crl_not_signed_by_the_client_ca_exits_78_naming_key_file_and_why()
    {
        using TestCertificateAuthority impostor = TestCertificateAuthority.Create("aifactory clients");
        string crl = WriteCrl(TestCertificateAuthority.Pem(impostor.RevocationList([])));
        List<string> args = AgentUnderTest.Arguments(_dir);
        args.AddRange(["--listen", "127.0.0.1:1", "--tls-certificate", _serverCertificate, "--tls-key", _serverKey, "--tls-client-ca", WriteClientCa(), "--tls-client-crl", crl]);

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, args);

        Assert.Equal(78, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal($"aifactory-agent: invalid configuration: command line --tls-client-crl: tls.client-crl: invalid value \"{crl}\": the CRL from \"CN=aifactory clients\": its signature does not verify with the CA's public key; it must be signed by that CA in tls.client-ca", stderr);
    }

    [Fact]
    public async Task A_certificate_without_its_key_is_a_usage_error()
    {
        using X509Certificate2 operatorCertificate = _clients.Issue("operator");
        (string certificate, _) = TestCertificateAuthority.WritePem(operatorCertificate, _dir, "operator");

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--address", "localhost:7443", "--cert", certificate]);

        Assert.Equal(2, status);
        Assert.Contains($"--cert: invalid value \"{certificate}\": needs --key", stderr, StringComparison.Ordinal);
    }

    private string WriteClientCa()
    {
        string path = Path.Combine(_dir, "clients-ca.pem");
        File.WriteAllText(path, _clients.CertificatePem);
        return path;
    }

    private string WriteCrl(string pem)
    {
        string path = Path.Combine(_dir, "clients.crl");
        File.WriteAllText(path, pem);
        return path;
    }

    /// <summary>What a CRL rotation job does: write the new file beside the old one, then rename it over (<c>mv new crl.pem</c>).</summary>
    private static void RenameOver(string path, string content)
    {
        string next = path + ".new";
        File.WriteAllText(next, content);
        File.Move(next, path, overwrite: true);
    }

    private AgentUnderTest StartReady(int port, string? clientCa, string? clientCrl = null, string metricsListen = "off")
    {
        List<string> args = ["--listen", $"127.0.0.1:{port}", "--tls-certificate", _serverCertificate, "--tls-key", _serverKey, "--log-level", "debug"];
        if (clientCa is not null)
        {
            args.AddRange(["--tls-client-ca", clientCa]);
        }

        if (clientCrl is not null)
        {
            args.AddRange(["--tls-client-crl", clientCrl]);
        }

        AgentUnderTest agent = AgentUnderTest.Start(extraArgs: args, metricsListen: metricsListen);
        Assert.True(agent.NextNotification() is { } ready && ready.StartsWith("READY=1", StringComparison.Ordinal), agent.Process.Describe());
        return agent;
    }

    private Task<(int Status, string Stdout, string Stderr)> Ctl(int port, (string Certificate, string Key)? client, params string[] verb)
    {
        List<string> args = [.. verb, "--address", $"https://localhost:{port}", "--ca", _serverCertificate, "--timeout", "30"];
        if (client is { } c)
        {
            args.AddRange(["--cert", c.Certificate, "--key", c.Key]);
        }

        return RunningProcess.RunAsync(Binaries.Cli, args);
    }

    /// <summary>The agent's log line holding <paramref name="text"/>, waited for (the handshake's end and the log race).</summary>
    private static async Task<string> WaitForLogAsync(AgentUnderTest agent, string text)
    {
        for (int i = 0; i < 600; i++)
        {
            if (agent.Process.Stdout.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
            {
                return line;
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException($"no log line with \"{text}\": {agent.Process.Describe()}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
