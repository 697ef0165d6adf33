using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AiFactory.Tests.Shared;

namespace AiFactory.EndToEnd.Tests;

/// <summary>aifactoryctl's global options: bad values are usage errors (exit 2), and an agent it cannot reach is named with the reason.</summary>
public sealed class CliUsageTests : IDisposable
{
    private readonly string _dir = AgentUnderTest.PrepareDirectory();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("foo")]
    [InlineData("ftp://127.0.0.1:21")]
    [InlineData("https://")]
    public async Task An_address_that_is_not_host_port_or_a_url_is_a_usage_error(string address)
    {
        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--address", address]);

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains($"--address: invalid value \"{address}\"", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1e30")]
    [InlineData("-1")]
    [InlineData("0")]
    [InlineData("NaN")]
    public async Task A_timeout_out_of_range_is_a_usage_error(string timeout)
    {
        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--socket", Path.Combine(_dir, "run", "absent.sock"), "--timeout", timeout]);

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Contains("--timeout", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1x")]
    [InlineData("")]
    public async Task A_timeout_that_is_not_a_number_is_a_usage_error_naming_it(string timeout)
    {
        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["--timeout", timeout, "health", "--socket", Path.Combine(_dir, "run", "absent.sock")]);

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        string[] lines = stderr.Split('\n');
        Assert.Equal($"aifactoryctl: --timeout: invalid value \"{timeout}\": must be a number of seconds above 0 and at most 86400", lines[0]);
        Assert.Equal(["Try 'aifactoryctl --help'."], lines[1..]);
    }

    [Fact]
    public async Task An_empty_socket_path_is_a_usage_error()
    {
        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--socket", ""]);

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        string[] lines = stderr.Split('\n');
        Assert.Equal("aifactoryctl: --socket: invalid value \"\": must not be empty", lines[0]);
        Assert.Equal(["Try 'aifactoryctl --help'."], lines[1..]);
    }

    [Fact]
    public async Task A_socket_path_longer_than_sun_path_is_a_usage_error_naming_its_length()
    {
        string tooLong = "/run/" + new string('s', 200) + ".sock";

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--socket", tooLong]);

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        string[] lines = stderr.Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("aifactoryctl: --socket: invalid value \"/run/sss", lines[0], StringComparison.Ordinal);
        Assert.EndsWith("…\": is 210 bytes long; a Unix socket path holds at most 107", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain(tooLong, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("localhost:80", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_socket_path_from_the_environment_is_checked_as_well()
    {
        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health"], new Dictionary<string, string?> { ["AIFACTORY_SOCKET"] = "/run/" + new string('e', 120) });

        Assert.Equal(2, status);
        Assert.StartsWith("aifactoryctl: --socket (AIFACTORY_SOCKET): invalid value \"/run/eee", stderr, StringComparison.Ordinal);
        Assert.Contains("is 125 bytes long", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_agents_own_listen_syntax_is_accepted_as_an_https_address()
    {
        int port = FreePort();

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--address", $"127.0.0.1:{port}", "--timeout", "30"]);

        Assert.Equal(69, status);
        Assert.StartsWith("aifactoryctl: Unavailable: ", Assert.Single(stderr.Split('\n')), StringComparison.Ordinal);
        Assert.Contains("Connection refused", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_socket_is_named_with_the_reason()
    {
        string missing = Path.Combine(_dir, "run", "absent.sock");

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--socket", missing, "--timeout", "30"]);

        Assert.Equal(69, status);
        Assert.Equal($"aifactoryctl: Unavailable: Error connecting or talking to the server: cannot connect to unix:{missing}: No such file or directory", stderr);
    }

    [Fact]
    public async Task An_untrusted_certificate_is_reported_with_the_reason_and_ca_trusts_it()
    {
        (string certificate, string key) = WriteSelfSignedPem();
        int port = FreePort();
        using AgentUnderTest agent = AgentUnderTest.Start(extraArgs: ["--listen", $"127.0.0.1:{port}", "--tls-certificate", certificate, "--tls-key", key]);
        Assert.True(agent.NextNotification() is { } ready && ready.StartsWith("READY=1", StringComparison.Ordinal), agent.Process.Describe());

        (int untrusted, _, string untrustedError) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--address", $"localhost:{port}", "--timeout", "30"]);
        (int trusted, string trustedOut, string trustedError) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--address", $"https://localhost:{port}", "--ca", certificate, "--timeout", "30"]);

        Assert.Equal(69, untrusted);
        string line = Assert.Single(untrustedError.Split('\n'));
        Assert.Contains("The SSL connection could not be established", line, StringComparison.Ordinal);
        Assert.Contains("remote certificate", line, StringComparison.OrdinalIgnoreCase);
        Assert.True(trusted == 0, trustedError);
        Assert.Equal("SERVING", trustedOut.Trim());
    }

    [Fact]
    public async Task A_ca_file_without_certificates_is_a_usage_error()
    {
        string empty = Path.Combine(_dir, "empty.pem");
        File.WriteAllText(empty, "not a certificate\n");

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--address", "localhost:7443", "--ca", empty]);

        Assert.Equal(2, status);
        Assert.Contains($"--ca: invalid value \"{empty}\"", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("profile plan -f", "absent.yaml", "file does not exist")]
    [InlineData("profile apply -f", "absent.yaml", "file does not exist")]
    [InlineData("profile plan -f", "", "the path is empty")]
    [InlineData("profile apply -f", "run", "is a directory")]
    [InlineData("profile plan -f", "/dev/zero", "is not a regular file (a character device)")]
    [InlineData("lease attach lease-0 --domain-xml", "run", "is a directory")]
    [InlineData("lease attach lease-0 --domain-xml", "/dev/zero", "is not a regular file (a character device)")]
    [InlineData("mig plan --select all-balanced --config", "/dev/zero", "is not a regular file (a character device)")]
    [InlineData("mig apply --select all-balanced --config", "absent.yaml", "file does not exist")]
    public async Task A_file_that_cannot_be_sent_is_one_usage_line_naming_it_and_why(string command, string file, string problem)
    {
        string path = file.Length == 0 || file.StartsWith('/') ? file : Path.Combine(_dir, file);
        string[] words = command.Split(' ');

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, [.. words, path, "--socket", Path.Combine(_dir, "run", "absent.sock")]);

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        string option = words[^1] == "-f" ? "--file" : words[^1];
        Assert.Equal($"aifactoryctl: {option}: invalid value \"{path}\": {problem}", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task A_fifo_given_as_a_profile_is_refused_at_once()
    {
        string fifo = Path.Combine(_dir, "profile.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["profile", "plan", "-f", fifo, "--socket", Path.Combine(_dir, "run", "absent.sock")]).WaitAsync(AgentUnderTest.Patience);

        Assert.Equal(2, status);
        Assert.Equal($"aifactoryctl: --file: invalid value \"{fifo}\": is not a regular file (a FIFO)", stderr.TrimEnd('\n'));
    }

    [Theory]
    [InlineData("307445734561825861m")]
    [InlineData("9223372036854775807h")]
    public async Task A_ttl_too_long_for_the_lease_is_a_usage_error_not_a_lease_that_expires_at_once(string ttl)
    {
        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli,
            ["lease", "create", "--owner", "x", "--vcpus", "2", "--memory", "1G", "--emulator-threads", "isolate", "--ttl", ttl, "--socket", Path.Combine(_dir, "run", "absent.sock")]);

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal($"aifactoryctl: --ttl: \"{ttl}\" is too long: a lease's TTL is at most 9223372036854775807 seconds", stderr.TrimEnd('\n'));
    }

    [Theory]
    [InlineData("--vcpus")]
    [InlineData("--gpus")]
    [InlineData("--vfs")]
    public async Task A_negative_count_is_a_usage_error_that_names_no_dotnet_type(string option)
    {
        string[] vcpus = option == "--vcpus" ? [] : ["--vcpus", "2"];

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["lease", "create", "--owner", "x", "--memory", "1G", .. vcpus, option, "-1"]);

        Assert.Equal(2, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal($"aifactoryctl: {option}: invalid value \"-1\": must be a whole number from 0 to 4294967295", stderr.Split('\n')[0]);
        Assert.DoesNotContain("System.", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_ca_that_is_a_device_is_a_usage_error_naming_it()
    {
        (int status, _, string stderr) = await RunningProcess.RunAsync(Binaries.Cli, ["health", "--address", "localhost:7443", "--ca", "/dev/zero"]).WaitAsync(AgentUnderTest.Patience);

        Assert.Equal(2, status);
        Assert.Equal("aifactoryctl: --ca: invalid value \"/dev/zero\": is not a regular file (a character device)", stderr.Split('\n')[0]);
    }

    private (string Certificate, string Key) WriteSelfSignedPem()
    {
        using X509Certificate2 created = LocalhostCertificate.Create();
        using ECDsa key = created.GetECDsaPrivateKey()!;
        string certificate = Path.Combine(_dir, "agent.crt");
        string keyFile = Path.Combine(_dir, "agent.key");
        File.WriteAllText(certificate, created.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certificate, keyFile);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
