namespace AiFactory.Grpc.Services;

/// <summary>
/// Who the peer of a call is, as the transport established it: the transport and, over TLS, the subject of the client
/// certificate the server validated. Shaped like Grpc.Core's <c>AuthContext</c> (<c>IsPeerAuthenticated</c>,
/// <c>PeerIdentity</c>) so that authorization code moves over unchanged when Grpc.AspNetCore replaces this layer.
/// </summary>
public sealed class AuthContext
{
    /// <summary>A call over the local (Unix socket) transport.</summary>
    public static readonly AuthContext Local = new(CallTransport.Local, peerIdentity: null);

    /// <summary>A call over TCP without TLS.</summary>
    public static readonly AuthContext Insecure = new(CallTransport.Insecure, peerIdentity: null);

    /// <summary>Creates a context; <paramref name="peerIdentity"/> is the validated client certificate's subject, or null.</summary>
    public AuthContext(CallTransport transport, string? peerIdentity)
    {
        if (peerIdentity is not null && transport != CallTransport.Tls)
        {
            throw new ArgumentException("only a TLS transport identifies its peer by a certificate", nameof(peerIdentity));
        }

        Transport = transport;
        PeerIdentity = peerIdentity;
    }

    /// <summary>How the call arrived.</summary>
    public CallTransport Transport { get; }

    /// <summary>
    /// True when the peer presented a client certificate that the server's TLS handshake validated (a listener that
    /// asks for none, or accepts one without validating it, never sets this).
    /// </summary>
    public bool IsPeerAuthenticated => PeerIdentity is not null;

    /// <summary>The distinguished name of the validated client certificate's subject; null when none was validated.</summary>
    public string? PeerIdentity { get; }
}
