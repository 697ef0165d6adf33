using System.Globalization;
using System.Text;
using AiFactory.Agent.Events;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Profile;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Profile;

/// <summary>
/// The node profile inside the daemon: plans (nothing written), applies one at a time (journaled, verified, rolled
/// back), recovers an interrupted apply at start, re-applies the stored profile before READY, and finds drift.
/// Every outcome is an event on the bus and a log line.
/// </summary>
internal sealed partial class ProfileManager(ProfileEnvironment env, EventBus bus, ILogger<ProfileManager> logger)
{
    private readonly Lock _gate = new();
    private string? _lastDrift;
    private ParsedProfile? _parsed;

    public ProfileEnvironment Environment => env;

    /// <summary>Parses and plans; throws <see cref="ProfileFormatException"/> with every error.</summary>
    public (NodeProfile Profile, ProfilePlan Plan) Plan(string yaml)
    {
        NodeProfile profile = Parse(yaml);
        return (profile, PlanNow(profile));
    }

    /// <summary>Plans <paramref name="profile"/> against the machine as it is now.</summary>
    public ProfilePlan PlanNow(NodeProfile profile)
    {
        var reader = new ProfileStateReader(env.Sysfs, NeedsSystemd(profile) ? env.Systemctl : null, env.ProcfsRoot, env.VfioOverridesDir);
        HostTopology topology = reader.ReadTopology();
        ProfileCurrentState state = reader.ReadState(profile);
        if (profile.Mig is not null)
        {
            (IReadOnlyList<MigGpuState> gpus, string? unavailable) = env.Mig is { } mig ? mig.Read() : (Array.Empty<MigGpuState>(), "this agent has no NVML layer");
            IReadOnlyList<Host.Model.Gpu.MigHold> held = [];
            try
            {
                held = env.Mig?.Held() ?? [];
            }
            catch (Gpu.MigRefusedException ex)
            {
                // The holds are unknown (the offline command beside a running agent, an unreadable ledger): no layout
                // can be planned around them, so the mig section is refused with the reason.
                unavailable ??= ex.Message;
            }

            state = state with { MigGpus = gpus, MigUnavailable = unavailable, MigHeld = held };
        }

        return ProfilePlanner.Plan(topology, state, profile);
    }

    /// <summary>
    /// Parses the profile and imports the mig-parted file it names. The last text parsed is kept (the profile is
    /// immutable), so the drift check and a re-apply of the same text skip the YAML parse; a profile that imports a
    /// mig-parted file is parsed every time, since that file may change.
    /// </summary>
    private NodeProfile Parse(string yaml)
    {
        if (Volatile.Read(ref _parsed) is { } last && string.Equals(last.Yaml, yaml, StringComparison.Ordinal))
        {
            return last.Profile;
        }

        NodeProfile profile = ProfileYaml.Parse(yaml);
        if (profile.Mig?.PartedSource is not null)
        {
            return ProfileYaml.ImportPartedConfig(profile, path => PartedConfigFile.Read(env.MigPartedDirectories, path));
        }

        Volatile.Write(ref _parsed, new ParsedProfile(yaml, profile));
        return profile;
    }

    /// <summary>
    /// Applies a profile: invalid input throws <see cref="ProfileFormatException"/> with nothing written; a failed
    /// step is rolled back; success stores the profile (re-applied at start). The vfio devices' boot-time overrides are steps of the plan.
    /// </summary>
    public ProfileApplyResult Apply(string yaml, string origin)
    {
        lock (_gate)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            RecoverLocked();
            NodeProfile profile = Parse(yaml);
            ProfilePlan plan = PlanNow(profile);
            if (!plan.IsValid)
            {
                string errors = string.Join("; ", plan.Errors);
                LogRefused(logger, origin, errors);
                bus.Publish("profile.refused", EventSeverity.Warning, "profile", $"profile refused ({origin}): {errors}", new Dictionary<string, string> { ["origin"] = origin, ["duration_seconds"] = Seconds(started) });
                throw new ProfileFormatException(plan.Errors);
            }

            string applyId = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture);
            var applier = Applier();
            ApplyReport report = applier.Apply(plan.Steps, applyId);
            foreach (StepOutcome step in report.Steps)
            {
                LogStep(logger, applyId, step.Index, step.Kind, step.Description, step.Elapsed.TotalMilliseconds, step.Ok ? "ok" : "FAILED", step.Detail);
            }

            if (report.Succeeded)
            {
                Store(yaml);
                _lastDrift = null;
                string message = plan.Steps.Count == 0 ? "profile already holds: nothing written" : $"profile applied: {plan.Steps.Count} steps, {report.Writes} writes";
                LogApplied(logger, applyId, origin, message);
                bus.Publish("profile.applied", EventSeverity.Info, "profile", message, new Dictionary<string, string>
                {
                    ["apply_id"] = applyId,
                    ["origin"] = origin,
                    ["steps"] = plan.Steps.Count.ToString(CultureInfo.InvariantCulture),
                    ["writes"] = report.Writes.ToString(CultureInfo.InvariantCulture),
                    ["duration_seconds"] = Seconds(started),
                });
            }
            else
            {
                StepFailure f = report.Failure!;
                LogFailed(logger, applyId, origin, f.Index, f.Description, f.File ?? "-", f.Errno ?? 0, f.Message, string.Join("; ", report.RolledBack));
                bus.Publish("profile.failed", EventSeverity.Error, "profile", $"step {f.Index} ({f.Description}) failed: {f.Message}; rolled back {report.RolledBack.Count} actions", new Dictionary<string, string>
                {
                    ["apply_id"] = applyId,
                    ["origin"] = origin,
                    ["step"] = f.Index.ToString(CultureInfo.InvariantCulture),
                    ["file"] = f.File ?? string.Empty,
                    ["errno"] = (f.Errno ?? 0).ToString(CultureInfo.InvariantCulture),
                    ["duration_seconds"] = Seconds(started),
                });
            }

            return new ProfileApplyResult(applyId, plan, report);
        }
    }

    /// <summary>Seconds since <paramref name="started"/> (a Stopwatch timestamp), for the events' duration_seconds.</summary>
    private static string Seconds(long started) =>
        System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Finishes an apply a killed process left (before the daemon serves).</summary>
    public RecoveryReport Recover()
    {
        lock (_gate)
        {
            return RecoverLocked();
        }
    }

    /// <summary>At start: recovery, then the stored profile (the operator's file first, else the last applied).</summary>
    public void ApplyAtStart()
    {
        Recover();
        string? path = File.Exists(env.ConfigProfilePath) ? env.ConfigProfilePath : File.Exists(env.StoredProfilePath) ? env.StoredProfilePath : null;
        if (path is null)
        {
            return;
        }

        try
        {
            Apply(File.ReadAllText(path), "start:" + path);
        }
        catch (ProfileFormatException)
        {
            // Logged and published by Apply; the daemon still serves (inventory, the API to fix the profile).
        }
    }

    /// <summary>The stored profile text and where it lives; null when none.</summary>
    public (string Yaml, string Source)? Stored()
    {
        foreach (string path in new[] { env.StoredProfilePath, env.ConfigProfilePath })
        {
            if (File.Exists(path))
            {
                return (File.ReadAllText(path), path);
            }
        }

        return null;
    }

    /// <summary>Plans the stored profile and publishes <c>profile.drift</c> when it no longer holds (once per change).</summary>
    public ProfilePlan? CheckDrift()
    {
        if (Stored() is not { } stored)
        {
            return null;
        }

        ProfilePlan plan;
        lock (_gate)
        {
            try
            {
                plan = Plan(stored.Yaml).Plan;
            }
            catch (ProfileFormatException ex)
            {
                plan = new ProfilePlan { Errors = ex.Errors };
            }
        }

        string signature = string.Join("\n", plan.Steps.Select(s => s.Describe()).Concat(plan.Errors.Select(e => e.ToString())));
        if (plan.IsNoOp)
        {
            _lastDrift = null;
        }
        else if (signature != _lastDrift)
        {
            _lastDrift = signature;
            string message = plan.IsValid
                ? $"the node no longer matches its profile: {string.Join("; ", plan.Steps.Select(s => s.Describe()))}"
                : $"the stored profile cannot be planned any more: {string.Join("; ", plan.Errors)}";
            LogDrift(logger, message);
            // kinds: the kinds of the steps that would put the node back (bind, vfs, hugepages, ...; the group check
            // that comes with a bind is no difference of its own), or "invalid" when the stored profile no longer
            // plans; the metrics count drift by these.
            string kinds = plan.IsValid
                ? string.Join(",", plan.Steps.Where(s => s is not CheckVfioGroupStep).Select(s => s.Kind).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
                : "invalid";
            bus.Publish("profile.drift", EventSeverity.Warning, "profile", message, new Dictionary<string, string>
            {
                ["steps"] = plan.Steps.Count.ToString(CultureInfo.InvariantCulture),
                ["kinds"] = kinds,
                ["source"] = stored.Source,
            });
        }

        return plan;
    }

    private RecoveryReport RecoverLocked()
    {
        RecoveryReport report;
        try
        {
            report = Applier().Recover();
        }
        catch (InvalidDataException ex)
        {
            LogJournalDamaged(logger, ex.Message);
            bus.Publish("profile.recovery-failed", EventSeverity.Error, "profile", ex.Message);
            throw;
        }

        if (report.Found)
        {
            string message = report.Phase == "complete"
                ? $"apply {report.ApplyId} had completed before the restart; journal removed"
                : $"apply {report.ApplyId} was interrupted; rolled back: {string.Join("; ", report.RolledBack)}";
            LogRecovered(logger, message, report.Errors.Count);
            bus.Publish("profile.recovered", report.Errors.Count == 0 ? EventSeverity.Warning : EventSeverity.Error, "profile", message, new Dictionary<string, string>
            {
                ["apply_id"] = report.ApplyId ?? string.Empty,
                ["phase"] = report.Phase ?? string.Empty,
                ["errors"] = string.Join("; ", report.Errors),
            });
        }

        return report;
    }

    private ProfileApplier Applier()
    {
        Action<int>? afterStep = null;
        if (env.Fault is { } fault && fault.StartsWith("kill-after-step:", StringComparison.Ordinal) &&
            int.TryParse(fault.AsSpan(16), NumberStyles.None, CultureInfo.InvariantCulture, out int killAt))
        {
            afterStep = i =>
            {
                if (i == killAt)
                {
                    LogFaultKill(logger, i);
                    System.Diagnostics.Process.GetCurrentProcess().Kill(); // SIGKILL, as kill -9
                }
            };
        }

        return new ProfileApplier(env.Sysfs, env.SysfsWriter, env.ProcfsWriter, env.Journal(), env.Groups, env.Systemctl, env.Modules)
        {
            AfterStep = afterStep,
            ProbeTimeout = env.ProbeTimeout,
            Mig = env.Mig,
            OverridesDir = env.VfioOverridesDir,
        };
    }

    private void Store(string yaml)
    {
        string path = env.StoredProfilePath;
        if (File.Exists(path) && File.ReadAllText(path) == yaml)
        {
            return;
        }

        AtomicWrite(path, yaml);
    }

    private static void AtomicWrite(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            stream.Write(Encoding.UTF8.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    private sealed record ParsedProfile(string Yaml, NodeProfile Profile);

    private static bool NeedsSystemd(NodeProfile profile) => profile.Cpus is not null || profile.Services.Count > 0;
}
