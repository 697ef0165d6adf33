using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AiFactory.Agent.Hosting.Tls;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Configuration;

/// <summary>
/// Reads <c>tls.client-crl</c>: one DER CRL, or PEM holding one or more (<c>-----BEGIN X509 CRL-----</c>), each issued
/// by a CA in <c>tls.client-ca</c> (same subject, cRLSign allowed if the CA lists key usages) and signed with its
/// key. Anything else, or a file that cannot be read (a regular file, at most <see cref="MaxBytes"/>), is a
/// configuration error naming the key, the file and why: a revocation list the agent cannot use must not start a
/// listener that quietly lets every certificate in.
/// </summary>
internal static class ClientCertificateRevocationLists
{
    /// <summary>The most the file may hold: a CRL of a hundred thousand serials is about 4 MiB.</summary>
    internal const int MaxBytes = 16 * 1024 * 1024;

    private const string PemLabel = "X509 CRL";

    public static ClientCertificateRevocation Load(string source, string key, string path, X509Certificate2Collection authorities)
    {
        byte[] bytes;
        try
        {
            bytes = BoundedFile.ReadBytes(path, MaxBytes) ?? throw new ConfigurationException(source, key, path, "file does not exist");
        }
        catch (BoundedFileException ex)
        {
            throw new ConfigurationException(source, key, path, ex.Problem);
        }

        var lists = new List<CertificateRevocationList>();
        foreach (ReadOnlyMemory<byte> der in Documents(bytes, source, key, path))
        {
            CertificateRevocationList list;
            try
            {
                list = CertificateRevocationList.Parse(der);
            }
            catch (FormatException ex)
            {
                throw new ConfigurationException(source, key, path, $"CRL {lists.Count + 1}: {ex.Message}");
            }

            string which = $"the CRL from \"{list.Issuer.Name}\"";
            X509Certificate2[] issuers = [.. authorities.Where(a => a.SubjectName.RawData.AsSpan().SequenceEqual(list.Issuer.RawData))];
            if (issuers.Length == 0)
            {
                throw new ConfigurationException(source, key, path, $"{which} is not issued by a certificate authority in tls.client-ca");
            }

            if (issuers.All(a => a.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage && (usage.KeyUsages & X509KeyUsageFlags.CrlSign) == 0))
            {
                throw new ConfigurationException(source, key, path, $"{which}: the CA's key usage does not allow signing CRLs (cRLSign)");
            }

            string? problem = null;
            if (!issuers.Any(a => (problem = list.SignatureProblem(a)) is null))
            {
                throw new ConfigurationException(source, key, path, $"{which}: {problem}; it must be signed by that CA in tls.client-ca");
            }

            if (lists.Any(l => l.Issuer.RawData.AsSpan().SequenceEqual(list.Issuer.RawData)))
            {
                throw new ConfigurationException(source, key, path, $"holds two CRLs from \"{list.Issuer.Name}\"; keep the current one only");
            }

            lists.Add(list);
        }

        return new ClientCertificateRevocation(path, lists);
    }

    /// <summary>The DER documents in <paramref name="bytes"/>: every PEM CRL block, or the whole file as DER.</summary>
    private static List<ReadOnlyMemory<byte>> Documents(byte[] bytes, string source, string key, string path)
    {
        if (bytes.Length > 0 && bytes[0] == 0x30)
        {
            return [bytes];
        }

        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ConfigurationException(source, key, path, "is neither DER (it does not start with a SEQUENCE) nor PEM text");
        }

        var documents = new List<ReadOnlyMemory<byte>>();
        ReadOnlySpan<char> rest = text;
        while (PemEncoding.TryFind(rest, out PemFields fields))
        {
            if (rest[fields.Label].SequenceEqual(PemLabel))
            {
                documents.Add(Convert.FromBase64String(rest[fields.Base64Data].ToString()));
            }

            rest = rest[fields.Location.End..];
        }

        return documents.Count > 0 ? documents
            : throw new ConfigurationException(source, key, path, $"holds no CRL: neither DER nor PEM with -----BEGIN {PemLabel}-----");
    }
}
