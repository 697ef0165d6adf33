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
using AiFactory.Host.Hardware.Files;

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
    private readonly AppliedProfileCpus _applied = new(env.StoredProfilePath);

    public ProfileEnvironment Environment => env;

    /// <summary>What the start did with the profile (null before <see cref="ApplyAtStart"/> ran).</summary>
    public ProfileStartStatus? StartStatus { get; private set; }

    /// <summary>Parses and plans; throws <see cref="ProfileFormatException"/> with every error, and stops the parse when <paramref name="cancellationToken"/> (the call's) is cancelled.</summary>
    public (NodeProfile Profile, ProfilePlan Plan) Plan(string yaml, CancellationToken cancellationToken = default)
    {
        NodeProfile profile = Parse(yaml, cancellationToken);
        return (profile, PlanNow(profile));
    }

    /// <summary>Plans <paramref name="profile"/> against the machine as it is now.</summary>
    public ProfilePlan PlanNow(NodeProfile profile) => PlanNow(profile, atStart: false, holds: null).Plan;

    /// <summary>
    /// Plans <paramref name="profile"/>; <paramref name="atStart"/>: a device the profile names that is not on the
    /// host (a GPU fallen off the bus, a card pulled) leaves only its own entry out, with a warning, and keeps its
    /// boot-time override, instead of refusing the whole profile (hugepages and host CPUs included) at boot.
    /// <paramref name="holds"/>: what leases hold, as the caller read it (null: read now).
    /// </summary>
    private (ProfilePlan Plan, HostTopology Topology) PlanNow(NodeProfile profile, bool atStart, LeaseHolds? holds)
    {
        // The units the profile applied last confined are read too: one this profile no longer names is reset.
        (CpuProfile? applied, string? appliedUnknown) = _applied.Read();
        var reader = new ProfileStateReader(env.Sysfs, NeedsSystemd(profile) || applied is not null ? env.Systemctl : null, env.ProcfsRoot, env.VfioOverridesDir);
        HostTopology topology = reader.ReadTopology();
        var missing = new List<string>();
        if (atStart)
        {
            profile = ProfileAtStart.LeaveOutMissing(profile, topology, missing);
        }

        ProfilePlan plan = PlanWithState(reader, topology, profile, holds, applied, appliedUnknown);
        return (atStart ? ProfileAtStart.KeepOverridesOfMissing(plan, topology, missing) : plan, topology);
    }

    private ProfilePlan PlanWithState(ProfileStateReader reader, HostTopology topology, NodeProfile profile, LeaseHolds? holds, CpuProfile? applied, string? appliedUnknown)
    {
        ProfileCurrentState state = reader.ReadState(profile, applied?.Units) with { AppliedCpus = applied, AppliedCpusUnknown = appliedUnknown };
        if (profile.Mig is not null)
        {
            (IReadOnlyList<MigGpuState> gpus, IReadOnlyList<MigGpuUnreadable> unreadable, string? unavailable) = env.Mig is { } mig
                ? mig.Read()
                : (Array.Empty<MigGpuState>(), Array.Empty<MigGpuUnreadable>(), "this agent has no NVML layer");
            IReadOnlyList<Host.Model.Gpu.MigHold> held = [];
            string? heldUnknown = null;
            try
            {
                held = env.Mig?.Held() ?? [];
            }
            catch (Gpu.MigRefusedException ex)
            {
                // The holds are unknown (the offline command beside a running agent, an unreadable ledger): no layout
                // can be planned around them, so the mig section is refused with the reason.
                heldUnknown = ex.Message;
            }

            state = state with { MigGpus = gpus, MigUnreadableGpus = unreadable, MigUnavailable = unavailable, MigHeld = held, MigHoldsUnavailable = heldUnknown };
        }

        state = ProfileAgentState.AddLeases(env, state, holds);
        ProfilePlan plan = ProfilePlanner.Plan(topology, state, profile);
        if (plan.GpusUnbound.Count == 0)
        {
            return plan;
        }

        // The plan takes a GPU from its driver: only now ask NVML which processes run on the GPUs (a vfio section
        // whose GPUs are bound already, the drift check's usual case, asks nothing), and plan again with the answer.
        return ProfilePlanner.Plan(topology, ProfileAgentState.AddGpuProcesses(env, state), profile);
    }

    /// <summary>
    /// Parses the profile and imports the mig-parted file it names. The last text parsed is kept (the profile is
    /// immutable), so the drift check and a re-apply of the same text skip the YAML parse; a profile that imports a
    /// mig-parted file is parsed every time, since that file may change.
    /// </summary>
    private NodeProfile Parse(string yaml, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _parsed) is { } last && string.Equals(last.Yaml, yaml, StringComparison.Ordinal))
        {
            return last.Profile;
        }

        NodeProfile profile = ProfileYaml.Parse(yaml, cancellationToken);
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
    /// Holds the state dir's <see cref="ProfileLock"/> from the recovery and plan to the last step, and throws
    /// <see cref="ProfileLockedException"/> at once, with nothing done, while another applier holds it.
    /// </summary>
    public ProfileApplyResult Apply(string yaml, string origin) => Apply(yaml, origin, atStart: false);

    private ProfileApplyResult Apply(string yaml, string origin, bool atStart)
    {
        lock (_gate)
        {
            // Another process's apply (the offline command, a second daemon on this state dir) would be "recovered",
            // that is rolled back, by the recovery below while it still runs: one change at a time, across processes.
            using ProfileLock held = ProfileLock.Acquire(env.StateDir, $"apply ({origin})");
            // Lease grants stop before the holds are read, and until the apply (verification included) has ended
            // only those that hold nothing it changes go on (Leases/LeaseLedger.ProfileGate.cs).
            using Leases.IProfileApplyHold? grants = env.Leases?.HoldGrants(origin);
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            RecoverLocked(retryFailedRollback: false);
            NodeProfile profile = Parse(yaml);
            LeaseHolds holds = env.Leases?.HeldResources() ?? LeaseHolds.None;
            (ProfilePlan plan, HostTopology topology) = PlanNow(profile, atStart, holds);
            if (atStart && plan.IsValid && plan.Warnings.Count > 0)
            {
                foreach (string warning in plan.Warnings)
                {
                    LogStartWarning(logger, origin, warning);
                }

                bus.Publish("profile.warning", EventSeverity.Warning, "profile", $"profile at start ({origin}): {string.Join("; ", plan.Warnings)}", new Dictionary<string, string> { ["origin"] = origin });
            }

            if (!plan.IsValid)
            {
                string errors = string.Join("; ", plan.Errors);
                LogRefused(logger, origin, errors);
                bus.Publish("profile.refused", EventSeverity.Warning, "profile", $"profile refused ({origin}): {errors}", new Dictionary<string, string> { ["origin"] = origin, ["duration_seconds"] = Seconds(started) });
                throw new ProfileFormatException(plan.Errors);
            }

            ProfileTouch touch = ProfileTouch.Of(plan.Steps, topology);
            grants?.Narrow(touch);

            // Right before the first write, with grants stopped: every lease granted before the gate closed was in the
            // holds planned with, so this finds nothing unless that guarantee broke; then nothing is written.
            if (env.Leases is { } leases && ProfileAgentState.NewHoldIn(touch, holds, leases.HeldResources()) is { } grabbed)
            {
                var errors = new[] { new ProfileValidationError("leases", grabbed) };
                LogRefused(logger, origin, grabbed);
                bus.Publish("profile.refused", EventSeverity.Warning, "profile", $"profile refused ({origin}): {grabbed}", new Dictionary<string, string> { ["origin"] = origin, ["duration_seconds"] = Seconds(started) });
                throw new ProfileFormatException(errors);
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
                MarkReady(true, $"node profile applied ({origin}, apply {applyId})");
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
                string rollback = report.RollbackErrors.Count == 0
                    ? $"rolled back {report.RolledBack.Count} actions"
                    : $"the rollback FAILED ({string.Join("; ", report.RollbackErrors)}): the node is half changed, journal kept at {report.JournalKept}, applies refused until `aifactory-agent profile recover` succeeds";
                if (report.RollbackErrors.Count > 0)
                {
                    MarkReady(false, string.Empty);
                    LogRollbackFailed(logger, applyId, report.JournalKept ?? string.Empty, string.Join("; ", report.RollbackErrors));
                }

                bus.Publish("profile.failed", EventSeverity.Error, "profile", $"step {f.Index} ({f.Description}) failed: {f.Message}; {rollback}", new Dictionary<string, string>
                {
                    ["apply_id"] = applyId,
                    ["origin"] = origin,
                    ["step"] = f.Index.ToString(CultureInfo.InvariantCulture),
                    ["file"] = f.File ?? string.Empty,
                    ["errno"] = (f.Errno ?? 0).ToString(CultureInfo.InvariantCulture),
                    ["rollback_errors"] = string.Join("; ", report.RollbackErrors),
                    ["duration_seconds"] = Seconds(started),
                });
            }

            return new ProfileApplyResult(applyId, plan, report);
        }
    }

    /// <summary>Seconds since <paramref name="started"/> (a Stopwatch timestamp), for the events' duration_seconds.</summary>
    private static string Seconds(long started) =>
        System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// Finishes an apply a killed process left (before the daemon serves), or retries a rollback that failed; the
    /// journal stays until every inverse action has succeeded (<see cref="RecoveryReport.Errors"/> empty).
    /// </summary>
    /// <exception cref="ProfileLockedException">Another process is applying or recovering on this state dir.</exception>
    public RecoveryReport Recover()
    {
        lock (_gate)
        {
            using ProfileLock held = ProfileLock.Acquire(env.StateDir, "recover");
            // A rollback rebinds devices and resizes pools: no lease is granted until it has ended.
            using Leases.IProfileApplyHold? grants = env.Leases?.HoldGrants("recover");
            return RecoverLocked(retryFailedRollback: true);
        }
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

    /// <summary>
    /// Recovery before an apply (<paramref name="retryFailedRollback"/> false: a journal whose rollback failed refuses
    /// the apply, naming it) or on its own (true: that rollback is run again). Throws
    /// <see cref="RollbackPendingException"/> when, before an apply, the journal cannot be cleared.
    /// </summary>
    private RecoveryReport RecoverLocked(bool retryFailedRollback)
    {
        ProfileApplier applier = Applier();
        RecoveryReport report;
        try
        {
            if (!retryFailedRollback && applier.PendingRollback() is { } pending)
            {
                var refused = new RollbackPendingException(applier.JournalPath, pending.ApplyId, pending.RollbackErrors ?? []);
                LogRefused(logger, "journal", refused.Message);
                bus.Publish("profile.refused", EventSeverity.Error, "profile", refused.Message, new Dictionary<string, string> { ["journal"] = applier.JournalPath });
                throw refused;
            }

            report = applier.Recover();
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
                : report.Errors.Count > 0
                    ? $"apply {report.ApplyId} ({report.Phase}): the rollback FAILED for {report.Errors.Count} inverse actions ({string.Join("; ", report.Errors)}); journal kept at {applier.JournalPath}; rolled back: {string.Join("; ", report.RolledBack)}"
                    : report.Phase == ProfileJournal.RollbackFailedPhase
                        ? $"apply {report.ApplyId}: the failed rollback is complete now; journal removed; rolled back: {string.Join("; ", report.RolledBack)}"
                        : $"apply {report.ApplyId} was interrupted; rolled back: {string.Join("; ", report.RolledBack)}";
            LogRecovered(logger, message, report.Errors.Count);
            bus.Publish("profile.recovered", report.Errors.Count == 0 ? EventSeverity.Warning : EventSeverity.Error, "profile", message, new Dictionary<string, string>
            {
                ["apply_id"] = report.ApplyId ?? string.Empty,
                ["phase"] = report.Phase ?? string.Empty,
                ["errors"] = string.Join("; ", report.Errors),
            });
        }

        if (!retryFailedRollback && report.Errors.Count > 0)
        {
            throw new RollbackPendingException(applier.JournalPath, report.ApplyId ?? string.Empty, report.Errors);
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
        string? current;
        try
        {
            current = BoundedFile.ReadText(path, ProfileYaml.MaxBytes);
        }
        catch (BoundedFileException)
        {
            current = null; // replaced below by the atomic write
        }

        if (current == yaml)
        {
            return;
        }

        // temp file, fsync, rename, fsync of the directory: a power cut leaves the old profile or the new one.
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        DurableFile.WriteAtomically(path, Encoding.UTF8.GetBytes(yaml));
    }

    private sealed record ParsedProfile(string Yaml, NodeProfile Profile);

    private static bool NeedsSystemd(NodeProfile profile) => profile.Cpus is not null || profile.Services.Count > 0;
}
