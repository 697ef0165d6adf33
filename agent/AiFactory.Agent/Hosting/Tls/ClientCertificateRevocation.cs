using System.Security.Cryptography.X509Certificates;
using AiFactory.Agent.Configuration;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Hosting.Tls;

/// <summary>
/// One reading of <c>tls.client-crl</c>: its CRLs, each already verified against a CA in <c>tls.client-ca</c>, one per
/// CA there. A chain whose certificates a list revokes is refused; so is every chain through a CA whose list is past
/// its <c>nextUpdate</c>, and every chain through a CA that has no list here (a client's own intermediate): fail
/// closed, as OpenSSL's CRL check is, since a root daemon that stops checking revocation when the operator forgot to
/// renew or install a list would let a revoked operator back in (the Unix socket still serves root on the node).
/// </summary>
/// <param name="Path">The file the lists came from, named in every refusal.</param>
/// <param name="Lists">One list per issuing CA.</param>
/// <param name="Version">The file's version when it was read (what a reload compares with); null when unknown.</param>
internal sealed record ClientCertificateRevocation(string Path, IReadOnlyList<CertificateRevocationList> Lists, FileVersion? Version = null)
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
                return $"tls.client-crl {Path} holds no CRL from \"{certificate.Issuer}\", which issued {Which(certificate, i)}, so it cannot be checked for revocation and is refused";
            }

            if (list.NextUpdate is { } next && next < now)
            {
                return $"tls.client-crl {Path} from \"{list.Issuer.Name}\" is out of date (nextUpdate {ClientCertificateRevocationLists.Time(next)}), so every certificate that CA issued is refused until a current CRL is installed there (the agent reloads the file when it changes)";
            }

            if (list.Revokes(certificate))
            {
                return $"{Which(certificate, i)} (serial {certificate.SerialNumber}) is revoked by tls.client-crl {Path}";
            }
        }

        return null;
    }

    /// <summary>The earliest nextUpdate of the lists: when this reading goes out of date; null when none has one.</summary>
    public DateTimeOffset? NextUpdate => Lists.Select(l => l.NextUpdate).Where(n => n is not null).Min();

    private static string Which(X509Certificate2 certificate, int index) =>
        index == 0 ? "the client certificate" : $"its issuing CA \"{certificate.Subject}\"";
}
