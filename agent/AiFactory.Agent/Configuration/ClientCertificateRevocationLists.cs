using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AiFactory.Agent.Hosting.Tls;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Configuration;

/// <summary>
/// Reads <c>tls.client-crl</c>: one DER CRL, or PEM holding one or more (<c>-----BEGIN X509 CRL-----</c>), each issued
/// by a CA in <c>tls.client-ca</c> (same subject, cRLSign allowed if the CA lists key usages) and signed with its
/// key, and one for every CA in <c>tls.client-ca</c> (fail closed, as OpenSSL's CRL check and nginx's
/// <c>ssl_crl</c> are: a CA whose list is missing would otherwise have its certificates accepted unchecked). Anything
/// else, or a file that cannot be read (a regular file, at most <see cref="MaxBytes"/>), is refused naming the file
/// and why: at start a configuration error (exit 78), on a reload (<see cref="ClientCertificateRevocationFile"/>)
/// a logged error that keeps the lists in use. A revocation list the agent cannot use must not start a listener
/// that quietly lets every certificate in.
/// </summary>
internal static class ClientCertificateRevocationLists
{
    /// <summary>The most the file may hold: a CRL of a hundred thousand serials is about 4 MiB.</summary>
    internal const int MaxBytes = 16 * 1024 * 1024;

    private const string PemLabel = "X509 CRL";

    /// <summary>The lists at start; a <see cref="ConfigurationException"/> naming <paramref name="key"/>, the file and why otherwise.</summary>
    /// <remarks>
    /// A list past its nextUpdate is taken: the listener then refuses that CA's certificates (saying why) until a
    /// current one is installed, rather than the agent not starting, which would take the Unix socket down too.
    /// </remarks>
    public static ClientCertificateRevocation Load(string source, string key, string path, X509Certificate2Collection authorities) =>
        Read(path, authorities, outOfDateAt: null, out string? problem) ?? throw new ConfigurationException(source, key, path, problem!);

    /// <summary>
    /// The lists in <paramref name="path"/>, verified against <paramref name="authorities"/>; null with the
    /// <paramref name="problem"/> (not naming the file) otherwise. With <paramref name="outOfDateAt"/> a list whose
    /// nextUpdate is before it is refused too (a reload must not replace lists in use with stale ones).
    /// </summary>
    public static ClientCertificateRevocation? Read(string path, X509Certificate2Collection authorities, DateTimeOffset? outOfDateAt, out string? problem)
    {
        try
        {
            problem = null;
            return Verified(path, authorities, outOfDateAt);
        }
        catch (FormatException ex)
        {
            problem = ex.Message;
            return null;
        }
        catch (CryptographicException ex)
        {
            // An issuer name that parsed as DER but does not decode as a name, and the like: on a reload this runs
            // on a timer, where an exception would end the daemon.
            problem = "it is not a valid X.509 CRL: " + ex.Message;
            return null;
        }
    }

    private static ClientCertificateRevocation Verified(string path, X509Certificate2Collection authorities, DateTimeOffset? outOfDateAt)
    {
        // The version before the read: a change made while it runs is seen as a change by the next look.
        FileVersion? version;
        byte[] bytes;
        try
        {
            version = FileVersion.OfPath(path);
            bytes = BoundedFile.ReadBytes(path, MaxBytes) ?? throw new FormatException("file does not exist");
        }
        catch (BoundedFileException ex)
        {
            throw new FormatException(ex.Problem, ex);
        }
        catch (IOException ex)
        {
            throw new FormatException("cannot be read: " + ex.Message, ex);
        }

        var lists = new List<CertificateRevocationList>();
        foreach (ReadOnlyMemory<byte> der in Documents(bytes))
        {
            CertificateRevocationList list;
            try
            {
                list = CertificateRevocationList.Parse(der);
            }
            catch (FormatException ex)
            {
                throw new FormatException($"CRL {lists.Count + 1}: {ex.Message}", ex);
            }

            string which = $"the CRL from \"{list.Issuer.Name}\"";
            X509Certificate2[] issuers = [.. authorities.Where(a => a.SubjectName.RawData.AsSpan().SequenceEqual(list.Issuer.RawData))];
            if (issuers.Length == 0)
            {
                throw new FormatException($"{which} is not issued by a certificate authority in tls.client-ca");
            }

            if (issuers.All(a => a.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage && (usage.KeyUsages & X509KeyUsageFlags.CrlSign) == 0))
            {
                throw new FormatException($"{which}: the CA's key usage does not allow signing CRLs (cRLSign)");
            }

            string? problem = null;
            if (!issuers.Any(a => (problem = list.SignatureProblem(a)) is null))
            {
                throw new FormatException($"{which}: {problem}; it must be signed by that CA in tls.client-ca");
            }

            if (lists.Any(l => l.Issuer.RawData.AsSpan().SequenceEqual(list.Issuer.RawData)))
            {
                throw new FormatException($"holds two CRLs from \"{list.Issuer.Name}\"; keep the current one only");
            }

            if (outOfDateAt is { } now && list.NextUpdate is { } next && next < now)
            {
                throw new FormatException($"{which} is out of date (nextUpdate {Time(next)})");
            }

            lists.Add(list);
        }

        foreach (X509Certificate2 authority in authorities)
        {
            if (!lists.Any(l => l.Issuer.RawData.AsSpan().SequenceEqual(authority.SubjectName.RawData)))
            {
                throw new FormatException(
                    $"holds no CRL from \"{authority.Subject}\", a certificate authority in tls.client-ca; every one of them needs its " +
                    "current CRL in this file (an empty one if it has revoked nothing), or the certificates it issued are refused");
            }
        }

        return new ClientCertificateRevocation(path, lists, version);
    }

    /// <summary>The DER documents in <paramref name="bytes"/>: every PEM CRL block, or the whole file as DER.</summary>
    private static List<ReadOnlyMemory<byte>> Documents(byte[] bytes)
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
            throw new FormatException("is neither DER (it does not start with a SEQUENCE) nor PEM text");
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
            : throw new FormatException($"holds no CRL: neither DER nor PEM with -----BEGIN {PemLabel}-----");
    }

    internal static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
