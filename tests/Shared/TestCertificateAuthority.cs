using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AiFactory.Tests.Shared;

/// <summary>A certificate authority made by a test (P-256), and the client certificates it signs, for the mutual-TLS tests.</summary>
internal sealed class TestCertificateAuthority : IDisposable
{
    /// <summary>id-kp-clientAuth.</summary>
    public static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <summary>id-kp-serverAuth.</summary>
    public static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private TestCertificateAuthority(X509Certificate2 certificate) => Certificate = certificate;

    /// <summary>The CA's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA's certificate as PEM, what <c>tls.client-ca</c> holds.</summary>
    public string CertificatePem => Certificate.ExportCertificatePem();

    /// <summary>A self-signed CA named <c>CN=<paramref name="name"/></c>, valid from ten minutes ago for two days.</summary>
    public static TestCertificateAuthority Create(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return new TestCertificateAuthority(request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2)));
    }

    /// <summary>
    /// An intermediate CA named <c>CN=<paramref name="name"/></c> signed by this one, with its private key, valid from
    /// ten minutes ago for a day and a half (within this one, around its certificates): what a client may send along with its certificate.
    /// </summary>
    public TestCertificateAuthority IssueAuthority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using X509Certificate2 signed = request.Create(Certificate, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddHours(36), RandomNumberGenerator.GetBytes(12));
        return new TestCertificateAuthority(signed.CopyWithPrivateKey(key));
    }

    /// <summary>
    /// A client certificate for <c>CN=<paramref name="commonName"/></c> signed by this CA, with its private key, loaded
    /// through PKCS#12 so that SslStream on Linux can use the key. <paramref name="usages"/>: the extended key usages
    /// (client authentication unless told otherwise; empty for none at all); valid from five minutes ago for a day unless told otherwise.
    /// </summary>
    public X509Certificate2 Issue(string commonName, Oid[]? usages = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        Oid[] eku = usages ?? [ClientAuthentication];
        if (eku.Length > 0)
        {
            var collection = new OidCollection();
            foreach (Oid oid in eku)
            {
                collection.Add(oid);
            }

            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(collection, false));
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        DateTimeOffset notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        using X509Certificate2 signed = request.Create(Certificate, notBefore, notAfter ?? DateTimeOffset.UtcNow.AddDays(1), serial);
        using X509Certificate2 withKey = signed.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// A DER CRL signed by this CA revoking <paramref name="revoked"/>; issued five minutes ago and due again in a day
    /// unless <paramref name="nextUpdate"/> (and <paramref name="thisUpdate"/>) say otherwise.
    /// </summary>
    public byte[] RevocationList(IEnumerable<X509Certificate2> revoked, DateTimeOffset? nextUpdate = null, DateTimeOffset? thisUpdate = null)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (X509Certificate2 certificate in revoked)
        {
            builder.AddEntry(certificate, DateTimeOffset.UtcNow.AddMinutes(-1), X509RevocationReason.KeyCompromise);
        }

        return builder.Build(Certificate, System.Numerics.BigInteger.One, nextUpdate ?? DateTimeOffset.UtcNow.AddDays(1), HashAlgorithmName.SHA256, thisUpdate: thisUpdate ?? DateTimeOffset.UtcNow.AddMinutes(-5));
    }

    /// <summary>A DER CRL as PEM (<c>-----BEGIN X509 CRL-----</c>), as openssl ca -gencrl writes it.</summary>
    public static string Pem(byte[] crl) => PemEncoding.WriteString("X509 CRL", crl) + "\n";

    /// <summary>Writes <paramref name="certificate"/> and its private key as PEM files in <paramref name="directory"/>.</summary>
    public static (string Certificate, string Key) WritePem(X509Certificate2 certificate, string directory, string name)
    {
        string certificateFile = Path.Combine(directory, name + ".crt");
        string keyFile = Path.Combine(directory, name + ".key");
        using ECDsa key = certificate.GetECDsaPrivateKey()!;
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certificateFile, keyFile);
    }

    public void Dispose() => Certificate.Dispose();
}
