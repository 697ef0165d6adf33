using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AiFactory.Agent.Hosting.Tls;

/// <summary>
/// One X.509 CRL (RFC 5280, 5.1): its issuer, its validity (thisUpdate, nextUpdate) and the serial numbers it revokes,
/// read from DER by <see cref="Parse"/>; <see cref="SignatureProblem"/> checks its signature against a CA. The BCL
/// neither lists a CRL's entries nor checks one from a local file (X509Chain on Linux consults only CRLs it fetched
/// from distribution points itself), so the few fields needed are read here with System.Formats.Asn1.
/// </summary>
/// <param name="issuer">The CA that issued the list (<c>issuer</c>).</param>
/// <param name="nextUpdate"><c>nextUpdate</c>: when a newer list is due, after which this one is out of date; null when absent.</param>
/// <param name="revoked">The revoked serial numbers, as <see cref="SerialKey"/> writes them.</param>
/// <param name="signatureAlgorithm">The OID of the signature algorithm.</param>
/// <param name="signedPart">The DER of <c>tbsCertList</c>, what the signature covers.</param>
/// <param name="signature">The signature's bytes.</param>
internal sealed class CertificateRevocationList(X500DistinguishedName issuer, DateTimeOffset? nextUpdate, HashSet<string> revoked, string signatureAlgorithm, byte[] signedPart, byte[] signature)
{
    /// <summary>The CA that issued the list (<c>issuer</c>).</summary>
    public X500DistinguishedName Issuer => issuer;

    /// <summary><c>nextUpdate</c>: when a newer list is due, after which this one is out of date; null when absent.</summary>
    public DateTimeOffset? NextUpdate => nextUpdate;

    /// <summary>How many certificates the list revokes.</summary>
    public int Count => revoked.Count;

    /// <summary>True when the list names the serial number of <paramref name="certificate"/> (its issuer is not compared here).</summary>
    public bool Revokes(X509Certificate2 certificate) => revoked.Contains(SerialKey(certificate.SerialNumberBytes.Span));

    /// <summary>Reads a DER CertificateList; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static CertificateRevocationList Parse(ReadOnlyMemory<byte> der)
    {
        try
        {
            var list = new AsnReader(der, AsnEncodingRules.DER);
            AsnReader certificateList = list.ReadSequence();
            list.ThrowIfNotEmpty();
            byte[] signedPart = certificateList.PeekEncodedValue().ToArray();
            AsnReader tbs = certificateList.ReadSequence();
            string outerAlgorithm = ReadAlgorithm(certificateList);
            byte[] signature = certificateList.ReadBitString(out int unusedBits);
            certificateList.ThrowIfNotEmpty();
            if (unusedBits != 0)
            {
                throw new FormatException("its signature is not a whole number of bytes");
            }

            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                _ = tbs.ReadInteger();
            }

            string innerAlgorithm = ReadAlgorithm(tbs);
            if (innerAlgorithm != outerAlgorithm)
            {
                throw new FormatException($"its two signature algorithms differ ({innerAlgorithm}, {outerAlgorithm})");
            }

            var issuer = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
            _ = ReadTime(tbs); // thisUpdate: a list issued "in the future" by a skewed clock is still the CA's word.
            DateTimeOffset? nextUpdate = tbs.HasData && IsTime(tbs.PeekTag()) ? ReadTime(tbs) : null;
            var revoked = new HashSet<string>(StringComparer.Ordinal);
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                AsnReader entries = tbs.ReadSequence();
                while (entries.HasData)
                {
                    AsnReader entry = entries.ReadSequence();
                    revoked.Add(SerialKey(entry.ReadIntegerBytes().Span));
                }
            }

            return new CertificateRevocationList(issuer, nextUpdate, revoked, outerAlgorithm, signedPart, signature);
        }
        catch (Exception ex) when (ex is AsnContentException or CryptographicException)
        {
            throw new FormatException("it is not a DER X.509 CRL: " + ex.Message, ex);
        }
    }

    /// <summary>Null when the list's signature verifies with the public key of <paramref name="authority"/>; the reason otherwise.</summary>
    public string? SignatureProblem(X509Certificate2 authority)
    {
        HashAlgorithmName? hash = signatureAlgorithm switch
        {
            "1.2.840.10045.4.3.2" or "1.2.840.113549.1.1.11" => HashAlgorithmName.SHA256,
            "1.2.840.10045.4.3.3" or "1.2.840.113549.1.1.12" => HashAlgorithmName.SHA384,
            "1.2.840.10045.4.3.4" or "1.2.840.113549.1.1.13" => HashAlgorithmName.SHA512,
            _ => null,
        };
        if (hash is not { } h)
        {
            return $"its signature algorithm {signatureAlgorithm} is not supported (ECDSA or RSA PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512 are)";
        }

        bool ecdsa = signatureAlgorithm.StartsWith("1.2.840.10045.", StringComparison.Ordinal);
        try
        {
            if (ecdsa)
            {
                using ECDsa? key = authority.GetECDsaPublicKey();
                return key is null ? "it is signed with ECDSA, but the CA's key is not an EC key"
                    : key.VerifyData(signedPart, signature, h, DSASignatureFormat.Rfc3279DerSequence) ? null : "its signature does not verify with the CA's public key";
            }

            using RSA? rsa = authority.GetRSAPublicKey();
            return rsa is null ? "it is signed with RSA, but the CA's key is not an RSA key"
                : rsa.VerifyData(signedPart, signature, h, RSASignaturePadding.Pkcs1) ? null : "its signature does not verify with the CA's public key";
        }
        catch (CryptographicException ex)
        {
            return "its signature cannot be checked: " + ex.Message;
        }
    }

    /// <summary>A serial number as upper-case hex without leading zero bytes, the same for a certificate and a CRL entry.</summary>
    internal static string SerialKey(ReadOnlySpan<byte> bigEndian)
    {
        int start = 0;
        while (start < bigEndian.Length - 1 && bigEndian[start] == 0)
        {
            start++;
        }

        return Convert.ToHexString(bigEndian[start..]);
    }

    private static string ReadAlgorithm(AsnReader reader)
    {
        AsnReader algorithm = reader.ReadSequence();
        return algorithm.ReadObjectIdentifier();
    }

    private static bool IsTime(Asn1Tag tag) => tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();
}
