using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace AiFactory.Agent.Hosting.Tls;

/// <summary>
/// TLS on the <c>--listen</c> TCP listener: the agent's certificate, and with <c>tls.client-ca</c> a client certificate
/// on every connection, checked by <see cref="ClientCertificateValidator"/> during the handshake; without it no client
/// certificate is asked for (and the listener serves read-only methods, <see cref="Api.Access.CallAuthorizer"/>).
/// </summary>
/// <remarks>
/// Kestrel's RequireCertificate refuses a client that sends no certificate inside the handshake without telling the
/// application, so nothing could log it. The listener therefore asks for a certificate (AllowCertificate: the server
/// sends CertificateRequest), refuses a bad one in the handshake, and closes a connection that sent none as soon as
/// the handshake is over, before it can send a single HTTP/2 frame, logging why in both cases.
/// </remarks>
internal static class TcpListenerTls
{
    /// <summary>The peer of the connection whose handshake runs on this flow, for the validator's log line.</summary>
    private static readonly AsyncLocal<EndPoint?> HandshakePeer = new();

    public static void Use(ListenOptions listen, X509Certificate2 certificate, ClientCertificateValidator? validator)
    {
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            // The chain SslStream builds before asking us would check revocation online; ours decides, offline.
            CheckCertificateRevocation = false,
            ClientCertificateMode = ClientCertificateMode.NoCertificate,
        };
        if (validator is null)
        {
            listen.UseHttps(https);
            return;
        }

        https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
        https.ClientCertificateValidation = (c, chain, _) => validator.Validate(c, chain, HandshakePeer.Value);

        // Before the handshake: the peer's address for the validator, which runs inside it on this flow.
        listen.Use(next => connection =>
        {
            HandshakePeer.Value = connection.RemoteEndPoint;
            return next(connection);
        });
        listen.UseHttps(https);

        // After the handshake: a client that sent no certificate goes no further.
        listen.Use(next => connection =>
        {
            if (connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate is null)
            {
                validator.Validate(null, null, connection.RemoteEndPoint);
                connection.Abort();
                return Task.CompletedTask;
            }

            return next(connection);
        });
    }
}
