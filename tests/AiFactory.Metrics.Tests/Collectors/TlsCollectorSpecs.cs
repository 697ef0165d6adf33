using System.Security.Cryptography.X509Certificates;
using AiFactory.Agent.Configuration;
using AiFactory.Agent.Hosting.Tls;
using AiFactory.Agent.Metrics;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Metrics.Tests.Fixtures;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Metrics.Tests.Collectors;

/// <summary>The tls collector: whether tls.client-crl as it is on disk is in use, and when each CRL in use runs out.</summary>
public sealed class TlsCollectorSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aifactory-metrics-tls-").FullName;
    private readonly TestCertificateAuthority _clients = TestCertificateAuthority.Create("clients");
    private readonly TestCertificateAuthority _team = TestCertificateAuthority.Create("team clients");

    public void Dispose()
    {
        _clients.Dispose();
        _team.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void A_loaded_crl_file_reads_as_in_use_with_each_cas_next_update()
    {
        DateTimeOffset next = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddHours(12).ToUnixTimeSeconds());
        using ClientCertificateRevocationFile file = Start(_clients.RevocationList([], nextUpdate: next), _team.RevocationList([], nextUpdate: next.AddHours(1)));

        List<ExpositionParser.Sample> samples = Scrape(file);

        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_tls_client_crl_reload_success").Value);
        Assert.Equal(file.LoadedAt.ToUnixTimeMilliseconds() / 1000.0, samples.Single(s => s.Name == "aifactory_tls_client_crl_loaded_timestamp_seconds").Value, 3);
        Assert.Equal(
            [("CN=clients", (double)next.ToUnixTimeSeconds()), ("CN=team clients", next.AddHours(1).ToUnixTimeSeconds())],
            samples.Where(s => s.Name == "aifactory_tls_client_crl_next_update_timestamp_seconds").Select(s => (s.Labels["issuer"], s.Value)));
    }

    [Fact]
    public void A_refused_change_reads_as_not_in_use_while_the_lists_in_use_stay()
    {
        using ClientCertificateRevocationFile file = Start(_clients.RevocationList([]), _team.RevocationList([]));
        File.WriteAllText(Path.Combine(_dir, "clients.crl"), "garbage\n");
        file.Check();

        List<ExpositionParser.Sample> samples = Scrape(file);

        Assert.Equal(0, samples.Single(s => s.Name == "aifactory_tls_client_crl_reload_success").Value);
        Assert.Equal(2, samples.Count(s => s.Name == "aifactory_tls_client_crl_next_update_timestamp_seconds"));
    }

    [Fact]
    public void Promtool_finds_nothing_wrong_with_the_tls_series()
    {
        using ClientCertificateRevocationFile file = Start(_clients.RevocationList([]), _team.RevocationList([]));

        (int exit, string output) = Promtool.CheckMetrics(Scrapes.Text(Scraper(file)));

        Assert.Equal(0, exit);
        Assert.Equal(string.Empty, output.Trim());
    }

    private static List<ExpositionParser.Sample> Scrape(ClientCertificateRevocationFile file) =>
        ExpositionParser.Parse(Scrapes.Text(Scraper(file)), openMetrics: false);

    private static MetricsScraper Scraper(ClientCertificateRevocationFile file) =>
        new([new TlsCollector(file)], null, null, null, NullLogger.Instance);

    private ClientCertificateRevocationFile Start(byte[] clients, byte[] team)
    {
        string path = Path.Combine(_dir, "clients.crl");
        File.WriteAllText(path, TestCertificateAuthority.Pem(clients) + TestCertificateAuthority.Pem(team));
        X509Certificate2Collection authorities = [X509CertificateLoader.LoadCertificate(_clients.Certificate.RawData), X509CertificateLoader.LoadCertificate(_team.Certificate.RawData)];
        return new ClientCertificateRevocationFile(
            ClientCertificateRevocationLists.Load("test", "tls.client-crl", path, authorities), authorities, NullLogger.Instance, interval: Timeout.InfiniteTimeSpan);
    }
}
