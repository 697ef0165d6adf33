using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Hosting.Tls;

internal sealed partial class ClientCertificateValidator
{
    [LoggerMessage(EventId = EventIds.ClientCertificateRejected, Level = LogLevel.Warning, Message = "TLS client {Peer} refused: certificate subject \"{Subject}\", issuer \"{Issuer}\": {Reason}")]
    private static partial void LogRejected(ILogger logger, string peer, string subject, string issuer, string reason);

    [LoggerMessage(EventId = EventIds.ClientCertificateAccepted, Level = LogLevel.Debug, Message = "TLS client {Peer} authenticated: certificate subject \"{Subject}\", issuer \"{Issuer}\"")]
    private static partial void LogAccepted(ILogger logger, string peer, string subject, string issuer);
}
