using AiFactory.Agent.Hosting.Tls;
using AiFactory.Agent.Metrics.Exposition;

namespace AiFactory.Agent.Metrics.Collectors;

/// <summary>
/// The client-certificate revocation lists of the TCP listener (<c>tls.client-crl</c>): whether the file as it is now
/// is in use, when the lists in use were loaded, and each list's nextUpdate, so that an alert can fire on a refused
/// rotation or before a CRL runs out (after which that CA's client certificates are refused). Registered only when
/// <c>tls.client-crl</c> is set.
/// </summary>
internal sealed class TlsCollector(ClientCertificateRevocationFile revocation) : IMetricsCollector
{
    public string Name => "tls";

    public void Collect(ScrapeContext context, ExpositionWriter writer)
    {
        ClientCertificateRevocation current = revocation.Current;
        writer.Sample(MetricNames.Tls.ClientCrlReloadSuccess, revocation.ReloadProblem is null ? 1 : 0);
        writer.Sample(MetricNames.Tls.ClientCrlLoaded, revocation.LoadedAt.ToUnixTimeMilliseconds() / 1000.0);
        foreach (CertificateRevocationList list in current.Lists)
        {
            if (list.NextUpdate is { } next)
            {
                writer.Sample(MetricNames.Tls.ClientCrlNextUpdate, [list.Issuer.Name], next.ToUnixTimeSeconds());
            }
        }
    }
}
