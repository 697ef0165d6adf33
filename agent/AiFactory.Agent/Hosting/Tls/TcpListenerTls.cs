using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace AiFactory.Agent.Hosting.Tls;

/// <summary>
/// TLS on the <c>--listen</c> TCP listener: the agent's certificate, and with <c>tls.client-ca</c> a client certificate
/// required on every connection and checked by <see cref="ClientCertificateValidator"/>; without it no client
/// certificate is asked for (and the listener serves read-only methods, <see cref="Api.Access.CallAuthorizer"/>).
/// </summary>
internal static class TcpListenerTls
{
    public static void Use(ListenOptions listen, X509Certificate2 certificate, ClientCertificateValidator? validator)
    {
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            ClientCertificateMode = validator is null ? ClientCertificateMode.NoCertificate : ClientCertificateMode.RequireCertificate,
            // The chain SslStream builds before asking us would check revocation online; ours decides, offline.
            CheckCertificateRevocation = false,
        };
        if (validator is not null)
        {
            https.ClientCertificateValidation = (c, chain, _) => validator.Validate(c, chain, remote: null);

            // Per connection, after Kestrel's own settings: our check for every handshake, the missing certificate
            // included (Kestrel refuses that one without asking), with the peer's address for the log line.
            https.OnAuthenticate = (connection, ssl) =>
            {
                EndPoint? remote = connection.RemoteEndPoint;
                ssl.ClientCertificateRequired = true;
                ssl.RemoteCertificateValidationCallback = (_, c, chain, _) => validator.Validate(c, chain, remote);
            };
        }

        listen.UseHttps(https);
    }
}
