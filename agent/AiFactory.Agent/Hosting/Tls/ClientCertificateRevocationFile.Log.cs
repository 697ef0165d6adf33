using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Hosting.Tls;

internal sealed partial class ClientCertificateRevocationFile
{
    [LoggerMessage(EventId = EventIds.ClientCertificateRevocationReloaded, Level = LogLevel.Information, Message = "tls.client-crl {Path} reloaded: {Lists} CRL(s) revoking {Revoked} certificate(s), next update due {NextUpdate}")]
    private static partial void LogReloaded(ILogger logger, string path, int lists, int revoked, string nextUpdate);

    [LoggerMessage(EventId = EventIds.ClientCertificateRevocationReloadRefused, Level = LogLevel.Error, Message = "tls.client-crl {Path} changed but cannot be used: {Problem}; the CRLs loaded {LoadedAt} stay in use until a valid file replaces it")]
    private static partial void LogReloadRefused(ILogger logger, string path, string problem, string loadedAt);

    [LoggerMessage(EventId = EventIds.ClientCertificateRevocationOutOfDate, Level = LogLevel.Error, Message = "tls.client-crl {Path} from \"{Issuer}\" is out of date (nextUpdate {NextUpdate}): every client certificate that CA issued is refused until a current CRL is installed there")]
    private static partial void LogOutOfDate(ILogger logger, string path, string issuer, string nextUpdate);
}
