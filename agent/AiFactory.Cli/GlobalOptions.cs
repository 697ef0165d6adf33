using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AiFactory.Grpc.Client;

namespace AiFactory.Cli;

/// <summary>Options every verb takes: where the agent is, how long to wait, and JSON output.</summary>
internal static class GlobalOptions
{
    /// <summary>The longest --timeout: a day is more than any call needs, and far from DateTime's overflow.</summary>
    public const double MaxTimeoutSeconds = 86_400;

    public static readonly Option<string> Socket = new("--socket")
    {
        Description = "the agent's Unix socket",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AIFACTORY_SOCKET") ?? "/run/aifactory/agent.sock",
        Recursive = true,
    };

    public static readonly Option<string?> Address = CreateAddress();

    public static readonly Option<bool> Json = new("--json") { Description = "print JSON for scripts", Recursive = true };

    public static readonly Option<double> Timeout = CreateTimeout();

    public static readonly Option<bool> Insecure = new("--insecure")
    {
        Description = "with an https address, do not verify the agent's certificate",
        Recursive = true,
    };

    public static readonly Option<string?> Ca = CreateCa();

    public static readonly Option<string?> Key = CreateKey();

    public static readonly Option<string?> Cert = CreateCert();

    public static GrpcChannel OpenChannel(ParseResult parse)
    {
        string? address = parse.GetValue(Address);
        if (address is null)
        {
            return GrpcChannel.ForUnixSocket(parse.GetValue(Socket)!);
        }

        var options = new GrpcChannelOptions();
        if (parse.GetValue(Insecure))
        {
            options.ServerCertificateValidation = (_, _, _, _) => true;
        }
        else if (parse.GetValue(Ca) is string ca)
        {
            options.TrustedCertificateAuthorities = LoadCertificates(ca);
        }

        if (parse.GetValue(Cert) is string cert && parse.GetValue(Key) is string key)
        {
            options.ClientCertificates = [LoadClientCertificate(cert, key)];
        }

        return GrpcChannel.ForAddress(ParseAddress(address, out _)!, options);
    }

    public static CallOptions Call(ParseResult parse, CancellationToken ct) =>
        new(DateTime.UtcNow.AddSeconds(parse.GetValue(Timeout)), ct);

    /// <summary>
    /// The agent's address as a URI: <c>https://host:port</c>, <c>http://host:port</c> (a plaintext test listener),
    /// or the agent's own <c>--listen</c> form <c>host:port</c>, which means https. Null with <paramref name="error"/> otherwise.
    /// </summary>
    internal static Uri? ParseAddress(string value, out string error)
    {
        string text = value.Contains("://", StringComparison.Ordinal) ? value : "https://" + value;
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0 ||
            uri.UserInfo.Length > 0 || uri.PathAndQuery != "/" || uri.Fragment.Length > 0)
        {
            error = $"--address: invalid value \"{value}\": must be host:port, https://host:port or http://host:port";
            return null;
        }

        if (!value.Contains("://", StringComparison.Ordinal) && uri.IsDefaultPort && !value.EndsWith(":443", StringComparison.Ordinal))
        {
            error = $"--address: invalid value \"{value}\": a port is needed (host:port, as the agent's --listen)";
            return null;
        }

        error = string.Empty;
        return uri;
    }

    private static Option<string?> CreateAddress()
    {
        var option = new Option<string?>("--address")
        {
            Description = "the agent's TCP address instead of the socket: host:port or https://host:port (TLS), http://host:port for a plaintext test listener",
            Recursive = true,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is string value && ParseAddress(value, out string error) is null)
            {
                result.AddError(error);
            }
        });
        return option;
    }

    private static Option<double> CreateTimeout()
    {
        var option = new Option<double>("--timeout")
        {
            Description = "seconds to wait for the agent (default 10)",
            DefaultValueFactory = _ => 10,
            Recursive = true,
        };
        option.Validators.Add(result =>
        {
            double value = result.GetValueOrDefault<double>();
            if (!(value > 0 && value <= MaxTimeoutSeconds))
            {
                result.AddError($"--timeout: invalid value \"{value.ToString(CultureInfo.InvariantCulture)}\": must be a number of seconds above 0 and at most {MaxTimeoutSeconds.ToString(CultureInfo.InvariantCulture)}");
            }
        });
        return option;
    }

    private static Option<string?> CreateCa()
    {
        var option = new Option<string?>("--ca")
        {
            Description = "with an https address, trust the certificate authorities in this PEM file instead of the system's (a private CA, or the agent's self-signed certificate)",
            Recursive = true,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is not string path)
            {
                return;
            }

            try
            {
                if (LoadCertificates(path).Count == 0)
                {
                    result.AddError($"--ca: invalid value \"{path}\": holds no PEM certificate");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
            {
                result.AddError($"--ca: invalid value \"{path}\": {ex.Message}");
            }
        });
        return option;
    }

    private static Option<string?> CreateCert()
    {
        var option = new Option<string?>("--cert")
        {
            Description = "with an https address, authenticate with this PEM client certificate (signed by a CA in the agent's tls.client-ca; needs --key): without one the agent's TCP listener serves read-only calls only",
            Recursive = true,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is not string path)
            {
                return;
            }

            if (result.GetValue(Key) is not string key)
            {
                result.AddError($"--cert: invalid value \"{path}\": needs --key, the certificate's PEM private key");
                return;
            }

            try
            {
                using X509Certificate2 _ = LoadClientCertificate(path, key);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                result.AddError($"--cert: invalid value \"{path}\" with --key \"{key}\": {ex.Message}");
            }
        });
        return option;
    }

    private static Option<string?> CreateKey()
    {
        var option = new Option<string?>("--key")
        {
            Description = "the PEM private key of --cert",
            Recursive = true,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is string path && result.GetValue(Cert) is null)
            {
                result.AddError($"--key: invalid value \"{path}\": a private key needs its certificate, --cert");
            }
        });
        return option;
    }

    /// <summary>The client certificate with its key, through PKCS#12 so that SslStream on Linux can sign with the key.</summary>
    private static X509Certificate2 LoadClientCertificate(string certificate, string key)
    {
        using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certificate, key);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private static X509Certificate2Collection LoadCertificates(string path)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(path);
        return certificates;
    }
}
