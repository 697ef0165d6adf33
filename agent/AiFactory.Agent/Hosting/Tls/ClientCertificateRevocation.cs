using System.Globalization;
using System.Security.Cryptography.X509Certificates;

namespace AiFactory.Agent.Hosting.Tls;

/// <summary>
/// The CRLs of <c>tls.client-crl</c>, each already verified against a CA in <c>tls.client-ca</c>. A chain whose
/// certificates a list revokes is refused; so is every chain through a CA whose list is past its <c>nextUpdate</c>
/// (fail closed: a root daemon that stops checking revocation when the operator forgot to renew the list would let a
/// revoked operator back in; the Unix socket still serves root on the node meanwhile).
/// </summary>
/// <param name="Path">The file the lists came from, named in every refusal.</param>
/// <param name="Lists">One list per issuing CA.</param>
internal sealed record ClientCertificateRevocation(string Path, IReadOnlyList<CertificateRevocationList> Lists)
{
    /// <summary>
    /// Null when no certificate of <paramref name="chain"/> (built and trusted already) is revoked at <paramref name="now"/>;
    /// the reason otherwise. The trust anchor itself is not looked up: a CA cannot revoke its own certificate.
    /// </summary>
    public string? Problem(X509Chain chain, DateTimeOffset now)
    {
        X509ChainElementCollection elements = chain.ChainElements;
        for (int i = 0; i < elements.Count - 1; i++)
        {
            X509Certificate2 certificate = elements[i].Certificate;
            CertificateRevocationList? list = Lists.FirstOrDefault(l => l.Issuer.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData));
            if (list is null)
            {
                continue;
            }

            if (list.NextUpdate is { } next && next < now)
            {
                return $"tls.client-crl {Path} from \"{list.Issuer.Name}\" is out of date (nextUpdate {Time(next)}), so every certificate that CA issued is refused until a current CRL is installed there and the agent restarted";
            }

            if (list.Revokes(certificate))
            {
                string which = i == 0 ? "the client certificate" : $"its issuing CA \"{certificate.Subject}\"";
                return $"{which} (serial {certificate.SerialNumber}) is revoked by tls.client-crl {Path}";
            }
        }

        return null;
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
