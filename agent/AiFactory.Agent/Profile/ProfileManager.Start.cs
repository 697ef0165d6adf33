using System.Security.Cryptography;
using System.Text;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Profile;

/// <summary>The start: which profile the node holds, its re-apply before READY=1, and the ready marker.</summary>
internal sealed partial class ProfileManager
{
    /// <summary>
    /// At start, before READY=1: recovery, then the profile <see cref="Stored"/> picks, tolerating devices that are
    /// gone. Never throws for the profile's sake (the daemon still serves: inventory, the API to fix it); the outcome
    /// is <see cref="StartStatus"/>, and the ready marker is written only when the profile is applied (or there is none).
    /// </summary>
    public ProfileStartStatus ApplyAtStart()
    {
        ProfileStartStatus status;
        try
        {
            Recover();
            status = Stored() is not { } stored ? ProfileStartStatus.None : ApplyStored(stored);
        }
        catch (ProfileFormatException ex)
        {
            // Logged and published by Apply.
            status = ProfileStartStatus.NotApplied("refused: " + string.Join("; ", ex.Errors));
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // A damaged journal, a rollback still failing, another applier holding the lock, an unreadable file.
            status = ProfileStartStatus.NotApplied(ex.Message);
        }

        MarkStart(status);
        return status;
    }

    /// <summary>Records what the start did (also for a read-only agent, which applies nothing): status and ready marker.</summary>
    public void MarkStart(ProfileStartStatus status)
    {
        StartStatus = status;
        LogStartStatus(logger, status.Line);
        MarkReady(status.Applied, status.Line);
    }

    private ProfileStartStatus ApplyStored((string Yaml, string Source) stored)
    {
        ProfileApplyResult result = Apply(stored.Yaml, "start:" + stored.Source, atStart: true);
        if (!result.Report.Succeeded)
        {
            StepFailure f = result.Report.Failure!;
            return ProfileStartStatus.NotApplied($"step {f.Index} ({f.Description}) failed: {f.Message}" +
                (result.Report.RollbackErrors.Count == 0 ? "; rolled back" : $"; the rollback FAILED, journal kept at {result.Report.JournalKept}"));
        }

        if (stored.Source == env.ConfigProfilePath)
        {
            // The operator's file is applied as it is now: from here on the last profile applied wins over it
            // until the file changes again.
            Directory.CreateDirectory(Path.GetDirectoryName(env.ConfigAppliedPath)!);
            DurableFile.WriteAtomically(env.ConfigAppliedPath, Encoding.ASCII.GetBytes(Digest(stored.Yaml) + "\n"));
        }

        string left = result.Plan.Warnings.Count == 0 ? string.Empty : $"; {result.Plan.Warnings.Count} warnings: {string.Join("; ", result.Plan.Warnings)}";
        return new ProfileStartStatus(true, $"node profile applied ({stored.Source}){left}");
    }

    /// <summary>
    /// The profile this node should hold, by one rule for the start, <c>GetProfile</c> and the drift check:
    /// the operator's file (<see cref="ProfileEnvironment.ConfigProfilePath"/>, /etc/aifactory/node-profile.yaml)
    /// when it is new or has changed since it was last applied (its SHA-256 is kept in the state dir); otherwise the
    /// last profile applied, by whatever means (the state-dir copy); otherwise none. So a profile applied through
    /// the API survives a reboot, and editing the file makes the file count again.
    /// </summary>
    public (string Yaml, string Source)? Stored()
    {
        string? config = ReadIfExists(env.ConfigProfilePath);
        string? stored = ReadIfExists(env.StoredProfilePath);
        if (config is not null && (stored is null || ReadIfExists(env.ConfigAppliedPath)?.Trim() != Digest(config)))
        {
            return (config, env.ConfigProfilePath);
        }

        return stored is null ? null : (stored, env.StoredProfilePath);
    }

    /// <summary>
    /// The profile whose host-reserved CPUs hold now, for the lease side. On an agent that applies profiles
    /// (<paramref name="applies"/>), the last one applied (the state-dir copy) when there is one: an operator's file
    /// edited since, not applied yet or refused, has changed no unit's <c>AllowedCPUs=</c>, so leases must not plan
    /// on its <c>cpus</c>. Otherwise (a read-only agent, or nothing applied yet) <see cref="Stored"/>, which keeps
    /// leases off the CPUs the profile means to reserve.
    /// </summary>
    /// <exception cref="IOException">A profile file is not a regular file, is too large or is not UTF-8.</exception>
    public (string Yaml, string Source)? InForce(bool applies) =>
        applies && ReadIfExists(env.StoredProfilePath) is { } applied ? (applied, env.StoredProfilePath) : Stored();

    /// <summary>A state file's text, bounded, regular files only (<see cref="BoundedFile"/>); null when it does not exist.</summary>
    /// <exception cref="IOException">It is not a regular file, is larger than a profile may be, or is not UTF-8.</exception>
    private static string? ReadIfExists(string path) => BoundedFile.ReadText(path, ProfileYaml.MaxBytes);

    private static string Digest(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>Writes (applied, holding <paramref name="line"/>) or removes (not) the ready marker aifactory-ready.target asserts.</summary>
    private void MarkReady(bool applied, string line)
    {
        if (env.ReadyMarkerPath is not { } marker)
        {
            return;
        }

        try
        {
            if (applied)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
                File.WriteAllText(marker, line + "\n");
            }
            else
            {
                File.Delete(marker);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogStartWarning(logger, marker, "ready marker: " + ex.Message);
        }
    }
}
