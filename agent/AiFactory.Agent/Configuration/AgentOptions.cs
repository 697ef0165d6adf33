using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Configuration;

/// <summary>
/// The daemon's settings after defaults, <c>agent.yaml</c>, environment (<c>AIFACTORY_*</c>) and flags were applied,
/// in that order. Built and validated by <see cref="AgentOptionsLoader"/>.
/// </summary>
internal sealed record AgentOptions
{
    public const string DefaultConfigPath = "/etc/aifactory/agent.yaml";

    /// <summary>The file the settings came from, or null when none was read.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>Where sysfs is mounted (a fixture tree in tests and demos).</summary>
    public string SysfsRoot { get; init; } = "/sys";

    /// <summary>Where procfs is mounted.</summary>
    public string ProcfsRoot { get; init; } = "/proc";

    /// <summary>Journal, leases and profile state.</summary>
    public string StateDir { get; init; } = "/var/lib/aifactory";

    /// <summary>The Unix socket for gRPC (h2c), for the CLI and local control planes.</summary>
    public string Socket { get; init; } = "/run/aifactory/agent.sock";

    /// <summary>TCP host:port for gRPC over TLS; null (the default) for none.</summary>
    public string? Listen { get; init; }

    /// <summary>Serve <see cref="Listen"/> without TLS (h2c). Only for loopback tests and benchmarks.</summary>
    public bool ListenPlaintext { get; init; }

    /// <summary>
    /// <c>listen-plaintext: insecure-any-address</c>: plaintext on a network address too, spelled out so that no
    /// casual <c>true</c> puts the whole API on a network without TLS or authentication (a test VM reached through a
    /// forwarded port).
    /// </summary>
    public bool ListenPlaintextAnyAddress { get; init; }

    /// <summary>PEM certificate for the TCP listener.</summary>
    public string? TlsCertificate { get; init; }

    /// <summary>PEM private key for the TCP listener.</summary>
    public string? TlsKey { get; init; }

    /// <summary>
    /// PEM bundle of the certificate authorities whose client certificates the TCP listener accepts (<c>tls.client-ca</c>);
    /// null for none, and then the TCP listener serves read-only methods only (<see cref="Api.Access.CallAuthorizer"/>).
    /// </summary>
    public string? TlsClientCa { get; init; }

    /// <summary>The certificates of <see cref="TlsClientCa"/>, loaded and checked when the settings were read.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2Collection? ClientCertificateAuthorities { get; init; }

    /// <summary>
    /// CRL file (PEM or DER) of the <see cref="TlsClientCa"/> CAs (<c>tls.client-crl</c>), one CRL for each of them: a
    /// client certificate it lists is refused in the handshake; null for no revocation check. Read at start and again
    /// whenever it changes (<see cref="Hosting.Tls.ClientCertificateRevocationFile"/>).
    /// </summary>
    public string? TlsClientCrl { get; init; }

    /// <summary>The lists of <see cref="TlsClientCrl"/>, loaded and verified against the CAs when the settings were read (the reading a reload starts from).</summary>
    public Hosting.Tls.ClientCertificateRevocation? ClientCertificateRevocation { get; init; }

    /// <summary>host:port of the Prometheus endpoint; null for none.</summary>
    public string? MetricsListen { get; init; } = "0.0.0.0:9400";

    /// <summary>
    /// The key of the hostname label on GPU series ("Hostname" like dcgm-exporter); empty to leave the label out.
    /// Validated by <see cref="Metrics.MetricsOptions.HostnameLabelProblem"/>.
    /// </summary>
    public string MetricsHostnameLabel { get; init; } = Metrics.MetricNames.Labels.DefaultHostname;

    /// <summary>The value of the hostname label (e.g. the Kubernetes node name); null for the machine's name.</summary>
    public string? MetricsHostname { get; init; }

    /// <summary>The NVML library to load (a fake one in tests and demos).</summary>
    public string NvmlLibrary { get; init; } = "libnvidia-ml.so.1";

    /// <summary>
    /// The libvirt connections a lease may be attached through (<c>libvirt-uris</c>, comma-separated); the first is used
    /// when an attach names none. Anything else a client sends is refused before libvirt sees it
    /// (<see cref="Leases.LibvirtUris"/>).
    /// </summary>
    public IReadOnlyList<string> LibvirtUris { get; init; } = [Leases.LeaseService.DefaultLibvirtUri];

    /// <summary>The least severe level logged.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>The largest gRPC message accepted or sent, in bytes.</summary>
    public int MaxMessageSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Change nothing on this machine even where the agent could (demos, audits): inventory only.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>How long a SIGTERM waits for calls in flight before the process exits anyway.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the daemon must have been quiet (next to no allocations) after work that allocated before it gives
    /// memory back to the OS (<see cref="Hosting.IdleMemoryTrimmer"/>); <see cref="TimeSpan.Zero"/> for never.
    /// </summary>
    public TimeSpan IdleTrim { get; init; } = TimeSpan.FromSeconds(5);
}
