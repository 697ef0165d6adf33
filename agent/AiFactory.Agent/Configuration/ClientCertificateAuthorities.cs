using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AiFactory.Agent.Configuration;

/// <summary>
/// Reads <c>tls.client-ca</c>: a PEM bundle of the certificate authorities whose client certificates the TCP listener
/// accepts. Read as the config file is (a regular file, at most 1 MiB, strict UTF-8); every certificate in it must be
/// a CA (basicConstraints CA:TRUE), so that a client certificate pasted here by mistake cannot become a trust anchor.
/// </summary>
internal static class ClientCertificateAuthorities
{
    public static X509Certificate2Collection Load(string source, string key, string path)
    {
        string text = AgentOptionsLoader.ReadBoundedFile(path, source, key, optional: false)!;
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(text);
        }
        catch (CryptographicException ex)
        {
            throw new ConfigurationException(source, key, path, "holds a PEM certificate that cannot be read: " + ex.Message);
        }

        if (certificates.Count == 0)
        {
            throw new ConfigurationException(source, key, path, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        for (int i = 0; i < certificates.Count; i++)
        {
            X509Certificate2 certificate = certificates[i];
            if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
            {
                throw new ConfigurationException(source, key, path, $"certificate {i + 1} of {certificates.Count} (subject \"{certificate.Subject}\") is not a certificate authority (basicConstraints CA:TRUE); list the CAs that sign the client certificates, not the client certificates");
            }
        }

        return certificates;
    }
}
