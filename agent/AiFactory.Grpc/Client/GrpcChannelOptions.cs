using AiFactory.Grpc.Protocol;

namespace AiFactory.Grpc.Client;

/// <summary>Limits of a client channel.</summary>
public sealed class GrpcChannelOptions
{
    /// <summary>The largest response message accepted; default 4 MiB.</summary>
    public int MaxReceiveMessageSize { get; set; } = GrpcFraming.DefaultMaxMessageSize;

    /// <summary>The largest request message sent; default 4 MiB.</summary>
    public int MaxSendMessageSize { get; set; } = GrpcFraming.DefaultMaxMessageSize;

    /// <summary>TLS validation for https addresses; null uses the system's trust store.</summary>
    public System.Net.Security.RemoteCertificateValidationCallback? ServerCertificateValidation { get; set; }

    /// <summary>
    /// Certificate authorities that a server's certificate must chain to, instead of the system's trust store (a
    /// private CA, a self-signed certificate); the host name is still checked. Ignored when
    /// <see cref="ServerCertificateValidation"/> is set.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2Collection? TrustedCertificateAuthorities { get; set; }

    /// <summary>Client certificates offered for mutual TLS.</summary>
    public System.Security.Cryptography.X509Certificates.X509CertificateCollection? ClientCertificates { get; set; }
}
