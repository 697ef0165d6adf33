using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Hosting.Tls;

/// <summary>
/// Decides, during the TLS handshake of the TCP listener, whether a client certificate is accepted: its chain must end
/// at one of the <c>tls.client-ca</c> certificates and nowhere else (custom root trust: the system's roots play no
/// part), every certificate in it must be within its validity period, and where the certificates carry an extended
/// key usage it must allow client authentication. Revocation is checked against the local <c>tls.client-crl</c> only
/// (<see cref="ClientCertificateRevocation"/>, the reading of it in use at the moment of the handshake), never online: fetching from the CA's distribution points would stall
/// handshakes on a server that cannot reach them. A refusal is logged once with the peer's address, the certificate's
/// subject and issuer, and the reason (a revoked certificate's serial among it).
/// </summary>
internal sealed partial class ClientCertificateValidator(X509Certificate2Collection authorities, ILogger logger, ClientCertificateRevocationFile? revocation = null, TimeProvider? time = null)
{
    /// <summary>id-kp-clientAuth (RFC 5280, 4.2.1.12).</summary>
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <summary>True to accept <paramref name="certificate"/> from <paramref name="remote"/>; logs why not otherwise.</summary>
    /// <param name="presented">The chain SslStream built, whose extra store holds the intermediates the client sent.</param>
    public bool Validate(X509Certificate? certificate, X509Chain? presented, EndPoint? remote)
    {
        string peer = remote?.ToString() ?? "unknown";
        if (certificate is not X509Certificate2 leaf)
        {
            LogRejected(logger, peer, "(none)", "(none)", certificate is null ? "no client certificate was presented; this listener requires one signed by tls.client-ca" : "the client certificate could not be read");
            return false;
        }

        if (Problem(leaf, presented) is { } problem)
        {
            LogRejected(logger, peer, leaf.Subject, leaf.Issuer, problem);
            return false;
        }

        LogAccepted(logger, peer, leaf.Subject, leaf.Issuer);
        return true;
    }

    /// <summary>Null when <paramref name="certificate"/> chains to the authorities as described above; the reason otherwise.</summary>
    internal string? Problem(X509Certificate2 certificate, X509Chain? presented)
    {
        using var chain = new X509Chain();
        X509ChainPolicy policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(authorities);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.ApplicationPolicy.Add(ClientAuthentication);
        if (presented is not null)
        {
            // Intermediates sent by the client help to build the chain; only the configured authorities end it.
            policy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
        }

        try
        {
            if (chain.Build(certificate))
            {
                return revocation?.Current.Problem(chain, (time ?? TimeProvider.System).GetUtcNow());
            }
        }
        catch (CryptographicException ex)
        {
            return "its chain cannot be built: " + ex.Message;
        }

        IEnumerable<string> reasons = chain.ChainStatus
            .Select(s => s.Status == X509ChainStatusFlags.UntrustedRoot || s.Status == X509ChainStatusFlags.PartialChain
                ? $"{s.Status}: it is not signed by a certificate authority in tls.client-ca"
                : $"{s.Status}: {s.StatusInformation.Trim()}")
            .Distinct(StringComparer.Ordinal);
        string text = string.Join("; ", reasons);
        return text.Length > 0 ? text : "its chain does not end at a certificate authority in tls.client-ca";
    }
}
