using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AiFactory.Cli.Input;
using AiFactory.Grpc.Client;

namespace AiFactory.Cli;

/// <summary>Options every verb takes: where the agent is, how long to wait, and JSON output.</summary>
internal static class GlobalOptions
{
    /// <summary>The longest --timeout: a day is more than any call needs, and far from DateTime's overflow.</summary>
    public const double MaxTimeoutSeconds = 86_400;

    /// <summary>sockaddr_un's sun_path holds 108 bytes with the terminating NUL (the agent's own limit for its socket).</summary>
    public const int MaxSocketPathBytes = 107;

    /// <summary>The environment variable that sets the default of --socket.</summary>
    public const string SocketVariable = "AIFACTORY_SOCKET";

    public static readonly Option<string> Socket = CreateSocket();

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
            options.TrustedCertificateAuthorities = ParseCertificates(ReadPem(ca));
        }

        if (parse.GetValue(Cert) is string cert && parse.GetValue(Key) is string key)
        {
            options.ClientCertificates = [LoadClientCertificate(ReadPem(cert), ReadPem(key))];
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

    /// <summary>
    /// Why <paramref name="path"/> cannot be the agent's socket (as the agent checks its own <c>socket</c> setting:
    /// not empty, no NUL, at most <see cref="MaxSocketPathBytes"/> bytes of UTF-8), or null when it can. A relative path
    /// is allowed: connect(2) takes one from the current directory.
    /// </summary>
    internal static string? SocketPathProblem(string path)
    {
        if (path.Length == 0)
        {
            return "must not be empty";
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            return "holds a NUL character";
        }

        int bytes = System.Text.Encoding.UTF8.GetByteCount(path);
        return bytes > MaxSocketPathBytes
            ? $"is {bytes.ToString(CultureInfo.InvariantCulture)} bytes long; a Unix socket path holds at most {MaxSocketPathBytes.ToString(CultureInfo.InvariantCulture)}"
            : null;
    }

    /// <summary>
    /// A value as a usage error quotes it: at most <paramref name="max"/> characters (48 by default), then "…"; control
    /// characters (C0, DEL, C1: a terminal acts on ESC and on the 8-bit CSI U+009B) as \xNN, so it stays one line.
    /// </summary>
    internal static string Quote(string value, int max = 48)
    {
        string shown = value.Length > max ? value[..max] + "…" : value;
        if (!shown.AsSpan().ContainsAnyInRange('\0', '\x1f') && !shown.AsSpan().ContainsAnyInRange('\x7f', '\x9f'))
        {
            return shown;
        }

        var escaped = new System.Text.StringBuilder(shown.Length + 8);
        foreach (char c in shown)
        {
            _ = c < 0x20 || c is >= '\x7f' and <= '\x9f' ? escaped.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}") : escaped.Append(c);
        }

        return escaped.ToString();
    }

    private static Option<string> CreateSocket()
    {
        var option = new Option<string>("--socket")
        {
            Description = $"the agent's Unix socket (default ${SocketVariable}, else /run/aifactory/agent.sock)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable(SocketVariable) ?? "/run/aifactory/agent.sock",
            Recursive = true,
        };
        option.Validators.Add(result =>
        {
            string path = result.GetValueOrDefault<string>() ?? string.Empty;
            if (SocketPathProblem(path) is { } problem)
            {
                string name = result.Implicit ? $"--socket ({SocketVariable})" : "--socket";
                result.AddError($"{name}: invalid value \"{Quote(path)}\": {problem}");
            }
        });
        return option;
    }

    private static Option<double> CreateTimeout()
    {
        // Parsed here rather than by the option's own conversion: that one's error for "abc" names neither the option
        // nor the range, and a validator asking for the value of an unparseable token throws.
        return new Option<double>("--timeout")
        {
            Description = "seconds to wait for the agent (default 10)",
            DefaultValueFactory = _ => 10,
            Recursive = true,
            CustomParser = result =>
            {
                if (result.Tokens.Count == 0)
                {
                    return 10;
                }

                string token = result.Tokens[^1].Value;
                if (double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0 && value <= MaxTimeoutSeconds)
                {
                    return value;
                }

                result.AddError($"--timeout: invalid value \"{Quote(token)}\": must be a number of seconds above 0 and at most {MaxTimeoutSeconds.ToString(CultureInfo.InvariantCulture)}");
                return 0;
            },
        };
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

            if (RequestFile.ReadText(path, out string problem) is not { } pem)
            {
                result.AddError(RequestFile.Describe("--ca", path, problem));
                return;
            }

            try
            {
                if (ParseCertificates(pem).Count == 0)
                {
                    result.AddError($"--ca: invalid value \"{path}\": holds no PEM certificate");
                }
            }
            catch (CryptographicException ex)
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

            if (RequestFile.ReadText(path, out string problem) is not { } certificate)
            {
                result.AddError(RequestFile.Describe("--cert", path, problem));
                return;
            }

            if (RequestFile.ReadText(key, out problem) is not { } privateKey)
            {
                result.AddError(RequestFile.Describe("--key", key, problem));
                return;
            }

            try
            {
                using X509Certificate2 _ = LoadClientCertificate(certificate, privateKey);
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
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

    /// <summary>The client certificate with its key (both PEM text), through PKCS#12 so that SslStream on Linux can sign with the key.</summary>
    private static X509Certificate2 LoadClientCertificate(string certificatePem, string keyPem)
    {
        using X509Certificate2 pem = X509Certificate2.CreateFromPem(certificatePem, keyPem);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private static X509Certificate2Collection ParseCertificates(string pem)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPem(pem);
        return certificates;
    }

    /// <summary>A PEM file a TLS option names, read as every file the CLI sends is (the validators have reported any problem).</summary>
    private static string ReadPem(string path) => RequestFile.ReadText(path, out string problem) ?? throw new IOException(RequestFile.Describe("PEM file", path, problem));
}
