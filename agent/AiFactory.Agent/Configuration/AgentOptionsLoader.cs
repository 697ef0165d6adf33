using System.Globalization;
using System.Net;
using AiFactory.Host.Hardware.Files;
using Microsoft.Extensions.Logging;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AiFactory.Agent.Configuration;

/// <summary>
/// Builds <see cref="AgentOptions"/>: defaults, then the YAML file (unknown keys rejected), then <c>AIFACTORY_*</c>
/// environment variables, then flags. Every key has one name, used in all three places
/// (<c>sysfs-root</c>, <c>AIFACTORY_SYSFS_ROOT</c>, <c>--sysfs-root</c>).
/// </summary>
internal static class AgentOptionsLoader
{
    /// <summary>The settable keys. TLS keys are nested in YAML under <c>tls:</c> and flat elsewhere.</summary>
    internal static readonly string[] Keys =
    [
        "sysfs-root", "procfs-root", "state-dir", "socket", "listen", "listen-plaintext", "metrics-listen",
        "metrics-hostname-label", "metrics-hostname", "nvml-library", "libvirt-uris", "log-level", "max-message-size", "shutdown-timeout", "idle-trim", "read-only", "tls-certificate", "tls-key", "tls-client-ca", "tls-client-crl",
    ];

    /// <summary>
    /// Loads the settings. <paramref name="configPath"/> null means the default path, read only if it exists;
    /// an explicit path must exist. <paramref name="flags"/> maps keys to values given on the command line.
    /// </summary>
    public static AgentOptions Load(string? configPath, IReadOnlyDictionary<string, string> flags, IReadOnlyDictionary<string, string?> environment)
    {
        var values = new Dictionary<string, (string Value, string Source)>(StringComparer.Ordinal);
        string path = AgentOptions.DefaultConfigPath;
        string? pathSource = null;
        if (configPath is not null)
        {
            (path, pathSource) = (configPath, "command line --config");
        }
        else if (environment.TryGetValue("AIFACTORY_CONFIG", out string? envPath) && !string.IsNullOrEmpty(envPath))
        {
            (path, pathSource) = (envPath, "environment AIFACTORY_CONFIG");
        }

        string? readPath = null;
        if (ReadConfigFile(path, pathSource) is { } text)
        {
            foreach ((string key, string value) in ParseYaml(text, path))
            {
                values[key] = (value, path);
            }

            readPath = path;
        }

        foreach (string key in Keys)
        {
            string env = "AIFACTORY_" + key.Replace('-', '_').ToUpperInvariant();
            if (environment.TryGetValue(env, out string? v) && v is not null)
            {
                values[key] = (v, "environment " + env);
            }
        }

        foreach ((string key, string value) in flags)
        {
            values[key] = (value, "command line --" + key);
        }

        return Build(values, readPath);
    }

    /// <summary>The most a config file may hold; a few dozen settings take a few hundred bytes.</summary>
    internal const int MaxConfigBytes = 1024 * 1024;

    /// <summary>
    /// The text of the config file at <paramref name="path"/>, or null when the default path (<paramref name="source"/> null)
    /// holds nothing. Only a regular file is read, at most <see cref="MaxConfigBytes"/>, as strict UTF-8: a device such as
    /// <c>/dev/zero</c> would be read forever and opening a FIFO blocks until a writer comes.
    /// </summary>
    internal static string? ReadConfigFile(string path, string? source) => ReadBoundedFile(path, source ?? path, "config", optional: source is null);

    /// <summary>
    /// The text of the regular file at <paramref name="path"/>, the value of <paramref name="key"/> given in
    /// <paramref name="where"/>, read as the config file is; null when it does not exist and is <paramref name="optional"/>.
    /// </summary>
    internal static string? ReadBoundedFile(string path, string where, string key, bool optional)
    {
        try
        {
            return BoundedFile.ReadText(path, MaxConfigBytes) ?? (optional ? null : throw new ConfigurationException(where, key, path, "file does not exist"));
        }
        catch (BoundedFileException ex)
        {
            // The config file's own errors name the file as their source; another file is the value of a setting.
            throw key == "config" && ex.NotUtf8 ? new ConfigurationException(path, "(document)", null, ex.Problem) : new ConfigurationException(where, key, path, ex.Problem);
        }
    }

    /// <summary>Reads a YAML mapping of the keys above; anything else is an error naming the key and its line.</summary>
    internal static IEnumerable<(string Key, string Value)> ParseYaml(string text, string source)
    {
        var stream = new YamlStream();
        try
        {
            YamlNesting.Check(text);
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw new ConfigurationException(source, $"line {ex.Start.Line}", null, "not valid YAML: " + ex.Message);
        }

        if (stream.Documents.Count > 1)
        {
            throw new ConfigurationException(source, "(document)", null, $"holds more than one YAML document (the second starts at line {stream.Documents[1].RootNode.Start.Line}); put every setting in one");
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return [];
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new ConfigurationException(source, "(document)", null, "must be a mapping of settings");
        }

        var result = new List<(string, string)>();
        Walk(root, prefix: string.Empty, source, result);
        return result;
    }

    private static void Walk(YamlMappingNode node, string prefix, string source, List<(string, string)> result)
    {
        foreach ((YamlNode keyNode, YamlNode valueNode) in node.Children)
        {
            string name = (keyNode as YamlScalarNode)?.Value ?? string.Empty;
            string key = prefix + name;
            if (prefix.Length == 0 && name == "tls")
            {
                if (valueNode is not YamlMappingNode tls)
                {
                    string problem = valueNode is YamlScalarNode { Value: null or "" } ? "is empty" : "must be a mapping";
                    throw new ConfigurationException(source, "tls", null, $"{problem} (line {keyNode.Start.Line}); it needs certificate and key beneath it");
                }

                Walk(tls, "tls-", source, result);
                continue;
            }

            if (Array.IndexOf(Keys, key) < 0 || key is "tls-certificate" or "tls-key" or "tls-client-ca" or "tls-client-crl" && prefix.Length == 0)
            {
                string where = $"line {keyNode.Start.Line}";
                throw new ConfigurationException(source, key.Replace("tls-", "tls.", StringComparison.Ordinal), null, $"unknown key ({where}); known keys: {string.Join(", ", Keys.Select(k => k.Replace("tls-", "tls.", StringComparison.Ordinal)))}");
            }

            if (valueNode is not YamlScalarNode scalar)
            {
                // Named as the file spells it (tls.certificate), not as the flag does (tls-certificate).
                throw new ConfigurationException(source, prefix.Length == 0 ? name : "tls." + name, null, $"must be a single value (line {valueNode.Start.Line})");
            }

            result.Add((key, scalar.Value ?? string.Empty));
        }
    }

    private static AgentOptions Build(Dictionary<string, (string Value, string Source)> values, string? configPath)
    {
        var options = new AgentOptions { ConfigPath = configPath };
        foreach ((string key, (string value, string source)) in values)
        {
            options = key switch
            {
                "sysfs-root" => options with { SysfsRoot = ExistingDirectory(source, key, value) },
                "procfs-root" => options with { ProcfsRoot = ExistingDirectory(source, key, value) },
                "state-dir" => options with { StateDir = AbsolutePath(source, key, value) },
                "socket" => options with { Socket = SocketPath(source, key, value) },
                "listen" => options with { Listen = Endpoint(source, key, value, allowOff: true) },
                "listen-plaintext" => string.Equals(value.Trim(), InsecureAnyAddress, StringComparison.OrdinalIgnoreCase)
                    ? options with { ListenPlaintext = true, ListenPlaintextAnyAddress = true }
                    : options with { ListenPlaintext = Bool(source, key, value), ListenPlaintextAnyAddress = false },
                "metrics-listen" => options with { MetricsListen = Endpoint(source, key, value, allowOff: true, emptyIsOff: false) },
                "metrics-hostname-label" => options with { MetricsHostnameLabel = HostnameLabel(source, key, value) },
                "metrics-hostname" => options with { MetricsHostname = value.Length == 0 ? null : Hostname(source, key, value) },
                "nvml-library" => options with { NvmlLibrary = NonEmpty(source, key, value) },
                "libvirt-uris" => options with { LibvirtUris = LibvirtUriList(source, key, value) },
                "log-level" => options with { LogLevel = Level(source, key, value) },
                "max-message-size" => options with { MaxMessageSize = Int(source, key, value, 1024, int.MaxValue) },
                "shutdown-timeout" => options with { ShutdownTimeout = TimeSpan.FromSeconds(Int(source, key, value, 1, 300)) },
                "idle-trim" => options with { IdleTrim = TimeSpan.FromSeconds(Int(source, key, value, 0, 3600)) },
                "read-only" => options with { ReadOnly = Bool(source, key, value) },
                "tls-certificate" => options with { TlsCertificate = ExistingFile(source, "tls.certificate", value) },
                "tls-key" => options with { TlsKey = ExistingFile(source, "tls.key", value) },
                "tls-client-ca" => value.Length == 0
                    ? options with { TlsClientCa = null, ClientCertificateAuthorities = null }
                    : options with { TlsClientCa = value, ClientCertificateAuthorities = ClientCertificateAuthorities.Load(source, "tls.client-ca", AbsolutePath(source, "tls.client-ca", value)) },
                "tls-client-crl" => options with { TlsClientCrl = value.Length == 0 ? null : AbsolutePath(source, "tls.client-crl", value) },
                _ => throw new ConfigurationException(source, key, value, "unknown key"),
            };
        }

        if (options.TlsClientCrl is { } crl)
        {
            string source = values["tls-client-crl"].Source;
            options = options with
            {
                ClientCertificateRevocation = options.ClientCertificateAuthorities is { } authorities
                    ? ClientCertificateRevocationLists.Load(source, "tls.client-crl", crl, authorities)
                    : throw new ConfigurationException(source, "tls.client-crl", crl, "revokes client certificates, but tls.client-ca (the CAs that issue them, and this list) is not set"),
            };
        }

        if (options.Listen is not null && !options.ListenPlaintext && (options.TlsCertificate is null || options.TlsKey is null))
        {
            throw new ConfigurationException("settings", "listen", options.Listen, "a TCP listener needs tls.certificate and tls.key (or listen-plaintext: true for a loopback test listener)");
        }

        if (options.TlsClientCa is not null && options.Listen is not null && options.ListenPlaintext)
        {
            throw new ConfigurationException("settings", "tls.client-ca", options.TlsClientCa, "asks for client certificates, which need TLS, but listen-plaintext serves the TCP listener without it; remove one of the two");
        }

        if (options.Listen is not null && options.ListenPlaintext && !options.ListenPlaintextAnyAddress && !IsLoopback(options.Listen))
        {
            throw new ConfigurationException("settings", "listen-plaintext", "true", $"serves gRPC without TLS, so it needs a loopback listen address (127.0.0.0/8, [::1] or localhost), not {options.Listen} (\"{InsecureAnyAddress}\" serves it there anyway, without TLS or authentication)");
        }

        return options;
    }

    /// <summary>The longest DNS name (RFC 1035: 255 octets on the wire, 253 written out).</summary>
    internal const int MaxHostnameLength = 253;

    private static string Hostname(string source, string key, string value) =>
        value.Length > MaxHostnameLength
            ? throw new ConfigurationException(source, key, value[..32] + "…", $"is {value.Length} characters long; a host name has at most {MaxHostnameLength}")
            : value;

    private static string HostnameLabel(string source, string key, string value) =>
        Metrics.MetricsOptions.HostnameLabelProblem(value) is { } problem ? throw new ConfigurationException(source, key, value, problem) : value;

    /// <summary>The <c>listen-plaintext</c> value that allows a plaintext listener on a network address.</summary>
    internal const string InsecureAnyAddress = "insecure-any-address";

    /// <summary>True when <paramref name="listen"/> (already validated) is on a loopback address.</summary>
    private static bool IsLoopback(string listen) => TryParseEndpoint(listen, out IPEndPoint endpoint) && IPAddress.IsLoopback(endpoint.Address);

    /// <summary>sockaddr_un's sun_path holds 108 bytes with the terminating NUL.</summary>
    internal const int MaxSocketPathBytes = 107;

    /// <summary>An absolute path short enough for bind(2) where nothing but a (stale) socket lies: the agent removes what lies there.</summary>
    private static string SocketPath(string source, string key, string value)
    {
        AbsolutePath(source, key, value);
        int bytes = System.Text.Encoding.UTF8.GetByteCount(value);
        if (bytes > MaxSocketPathBytes)
        {
            throw new ConfigurationException(source, key, value, $"is {bytes} bytes long; a Unix socket path holds at most {MaxSocketPathBytes}");
        }

        Host.Hardware.Files.FileIdentity? existing;
        try
        {
            existing = Host.Hardware.Files.FileIdentity.OfPath(value);
        }
        catch (IOException)
        {
            // Unreadable here (a directory the agent may not search): bind reports it.
            return value;
        }

        return existing is { IsSocket: false } ? throw new ConfigurationException(source, key, value, "exists and is not a socket") : value;
    }

    /// <summary>Comma-separated local libvirt URIs (<see cref="Leases.LibvirtUris.ConfigProblem"/>), at least one; duplicates dropped.</summary>
    private static IReadOnlyList<string> LibvirtUriList(string source, string key, string value)
    {
        var uris = new List<string>();
        foreach (string entry in value.Split(',', StringSplitOptions.TrimEntries))
        {
            if (Leases.LibvirtUris.ConfigProblem(entry) is { } problem)
            {
                throw new ConfigurationException(source, key, value, problem);
            }

            if (!uris.Contains(entry, StringComparer.Ordinal))
            {
                uris.Add(entry);
            }
        }

        return uris;
    }

    private static string NonEmpty(string source, string key, string value) =>
        string.IsNullOrWhiteSpace(value) ? throw new ConfigurationException(source, key, value, "must not be empty") : value;

    private static string AbsolutePath(string source, string key, string value) =>
        Path.IsPathFullyQualified(value) ? value : throw new ConfigurationException(source, key, value, "must be an absolute path");

    private static string ExistingDirectory(string source, string key, string value) =>
        System.IO.Directory.Exists(AbsolutePath(source, key, value)) ? value : throw new ConfigurationException(source, key, value, "directory does not exist");

    private static string ExistingFile(string source, string key, string value) =>
        System.IO.File.Exists(AbsolutePath(source, key, value)) ? value : throw new ConfigurationException(source, key, value, "file does not exist");

    private static bool Bool(string source, string key, string value) => value.ToLowerInvariant() switch
    {
        "true" or "yes" or "1" => true,
        "false" or "no" or "0" => false,
        _ => throw new ConfigurationException(source, key, value, "must be true or false"),
    };

    private static int Int(string source, string key, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
            ? n
            : throw new ConfigurationException(source, key, value, $"must be a whole number from {min} to {max}");

    private static LogLevel Level(string source, string key, string value) => value.ToLowerInvariant() switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" or "information" => LogLevel.Information,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new ConfigurationException(source, key, value, "must be one of trace, debug, info, warning, error"),
    };

    /// <summary>
    /// host:port (IPv6 in brackets); "off" (and empty, where <paramref name="emptyIsOff"/>) turns the listener off when
    /// allowed. The metrics listener is on by default, so an empty value there is refused: it is almost always a
    /// template that rendered nothing, not a wish to turn the endpoint off.
    /// </summary>
    private static string? Endpoint(string source, string key, string value, bool allowOff, bool emptyIsOff = true)
    {
        if (value.Length == 0 && !emptyIsOff)
        {
            throw new ConfigurationException(source, key, value, "empty; give host:port, or 'off' to turn the listener off");
        }

        if (allowOff && (value.Length == 0 || value.Equals("off", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        if (!TryParseEndpoint(value, out _))
        {
            throw new ConfigurationException(source, key, value, "must be host:port with an IP address or 'localhost' and a port from 1 to 65535 (IPv6 as [::1]:port), or 'off'");
        }

        return value;
    }

    /// <summary>Parses host:port for Kestrel's Listen.</summary>
    public static bool TryParseEndpoint(string value, out IPEndPoint endpoint)
    {
        endpoint = new IPEndPoint(IPAddress.Loopback, 0);
        int colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            return false;
        }

        string host = value[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        if (host == "localhost")
        {
            endpoint = new IPEndPoint(IPAddress.Loopback, port);
            return true;
        }

        if (!IPAddress.TryParse(host, out IPAddress? address))
        {
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }
}
