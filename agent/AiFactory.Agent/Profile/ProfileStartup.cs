using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Profile;

/// <summary>
/// At start, before READY (hosted services start before the host reports started): finish an interrupted apply
/// from the journal, then apply the stored profile. READY=1 follows either way (the API must serve to fix a
/// profile), but only an applied profile (or none) writes the marker aifactory-ready.target asserts, and the
/// STATUS= line says which (<see cref="ProfileManager.StartStatus"/>). Afterwards, check for drift every
/// <c>AIFACTORY_PROFILE_DRIFT_SECONDS</c> (default 60) and publish <c>profile.drift</c>.
/// </summary>
internal sealed partial class ProfileStartup(ProfileManager manager, HostCapabilities capabilities, ILogger<ProfileStartup> logger) : IHostedService, IDisposable
{
    private Timer? _drift;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!capabilities.ReadOnly)
        {
            ProfileStartStatus status = manager.ApplyAtStart();
            if (!status.Applied)
            {
                LogStartFailed(logger, status.Line);
            }
        }
        else
        {
            ProfileStartStatus status;
            try
            {
                status = manager.Stored() is null ? ProfileStartStatus.None : ProfileStartStatus.NotApplied($"the agent is read-only ({capabilities.ReadOnlyReason})");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                status = ProfileStartStatus.NotApplied(ex.Message);
            }

            manager.MarkStart(status);
        }

        int seconds = int.TryParse(Environment.GetEnvironmentVariable("AIFACTORY_PROFILE_DRIFT_SECONDS"), NumberStyles.None, CultureInfo.InvariantCulture, out int s) && s > 0 ? s : 60;
        _drift = new Timer(_ => CheckDrift(), null, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(seconds));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _drift?.Change(Timeout.Infinite, Timeout.Infinite);
        return Task.CompletedTask;
    }

    public void Dispose() => _drift?.Dispose();

    private void CheckDrift()
    {
        try
        {
            manager.CheckDrift();
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            LogStartFailed(logger, "drift check: " + ex.Message);
        }
    }

    [LoggerMessage(EventId = EventIds.ProfileStartFailed, Level = LogLevel.Error, Message = "Profile at start: {Message}")]
    private static partial void LogStartFailed(ILogger logger, string message);
}
