using System.CommandLine;
using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Logging;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Profile;
using Microsoft.Extensions.Logging;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Profile;

/// <summary>
/// <c>aifactory-agent profile plan|apply|recover</c>: the profile without the daemon (for a first boot, a rescue
/// shell, and the kernel-tier tests). Same planner, applier, journal, lock and state dir as the daemon; exit 0 on
/// success, 1 on a failed (rolled back) apply or a refusal (another applier holds the lock, a rollback is pending),
/// 2 on invalid input, 3 when a rollback (of a failed apply, or by <c>recover</c>) left inverse actions undone, 73
/// when a running agent holds the state dir's lease ledger and the profile cannot be planned without it.
/// </summary>
internal static class ProfileCommand
{
    /// <summary>Invalid input: the profile (one <c>invalid profile: field: reason</c> line per error), or the command line.</summary>
    internal const int ExitInvalid = 2;

    /// <summary>A rollback left inverse actions undone: the node is half changed and the journal is kept.</summary>
    internal const int ExitRollbackFailed = 3;

    /// <summary>
    /// A running agent holds the state dir's lease ledger, so what leases hold is unknown here and the profile's
    /// changes that depend on it cannot be planned: the agent's own status when another agent uses its state dir
    /// (sysexits.h EX_CANTCREAT, <see cref="Hosting.Daemon.ExitCannotCreate"/>), not the invalid profile's 2.
    /// </summary>
    internal const int ExitStateDirInUse = Hosting.Daemon.ExitCannotCreate;

    public static Command Create()
    {
        var command = new Command("profile", "plan or apply a node profile, or recover an interrupted apply, without the daemon");
        foreach (string verb in new[] { "plan", "apply", "recover" })
        {
            var file = new Option<string?>("--file", "-f") { Description = "the profile (YAML, version: v1)" };
            var sysfs = new Option<string?>("--sysfs-root") { Description = "where sysfs is mounted (default /sys)" };
            var procfs = new Option<string?>("--procfs-root") { Description = "where procfs is mounted (default /proc)" };
            var state = new Option<string?>("--state-dir") { Description = "journal and stored profile (default /var/lib/aifactory)" };
            var sub = new Command(verb, verb switch
            {
                "plan" => "show the steps and the diff from now; writes nothing",
                "apply" => "apply the profile (journaled, verified, rolled back on failure)",
                _ => "roll back an apply a killed process left in the journal",
            });
            sub.Options.Add(file);
            sub.Options.Add(sysfs);
            sub.Options.Add(procfs);
            sub.Options.Add(state);
            sub.SetAction(parse =>
            {
                var flags = new Dictionary<string, string>(StringComparer.Ordinal);
                if (parse.GetValue(sysfs) is string s) flags["sysfs-root"] = s;
                if (parse.GetValue(procfs) is string p) flags["procfs-root"] = p;
                if (parse.GetValue(state) is string d) flags["state-dir"] = d;
                return Run(verb, parse.GetValue(file), flags);
            });
            command.Subcommands.Add(sub);
        }

        return command;
    }

    /// <summary>One verb, as the command line gives it (tests call it in process); returns the exit status.</summary>
    internal static int Run(string verb, string? file, Dictionary<string, string> flags)
    {
        AgentOptions options;
        try
        {
            options = AgentOptionsLoader.Load(null, flags, AgentCommandLine.EnvironmentVariables());
        }
        catch (ConfigurationException ex)
        {
            Console.Error.WriteLine("aifactory-agent: invalid configuration: " + ex.Message);
            return ConfigurationException.ExitCode;
        }

        // A refused profile's errors are printed below, each once: the log line that says the same is left out.
        using ILoggerFactory logs = LoggerFactory.Create(b => b.AddProvider(new StdoutLoggerProvider(Console.Error, false, LogLevel.Information, new HashSet<int> { EventIds.ProfileRefused })).SetMinimumLevel(LogLevel.Information));
        // MIG steps (and their journaled inverses) go through the same NVML layer as in the daemon; without the
        // driver it is absent and only a mig section is refused. The MIG instances leases hold come from the lease
        // ledger in the state dir, as the daemon's come from its live ledger: layouts are planned around them, and a
        // ledger a running agent has open refuses the mig section (that agent must make the change).
        using var nvml = new GpuNvml(options.NvmlLibrary, options.SysfsRoot);
        var inventory = new GpuInventory(nvml, new GpuHealthRegistry());
        var holds = new Leases.StoredLeaseHolds(options.StateDir);
        var applier = new MigApplier(nvml, inventory, holds);
        // No ready marker: what aifactory-ready.target asserts is the daemon's start's to decide (restart it after a fix).
        var env = ProfileEnvironment.FromOptions(options) with { Mig = new ProfileMig(nvml, inventory, applier, options.ProcfsRoot), Leases = holds, ReadyMarkerPath = null };
        var manager = new ProfileManager(env, new EventBus(), logs.CreateLogger<ProfileManager>());
        try
        {
            if (verb == "recover")
            {
                RecoveryReport r = manager.Recover();
                Console.Out.WriteLine(!r.Found ? "no interrupted apply" : $"journal of apply {r.ApplyId} ({r.Phase}): {r.RolledBack.Count} inverse actions run, {r.Errors.Count} failed");
                foreach (string line in r.RolledBack)
                {
                    Console.Out.WriteLine("  undo: " + line);
                }

                if (r.Errors.Count > 0)
                {
                    Console.Out.WriteLine($"the rollback is still incomplete ({r.Errors.Count} inverse actions failed); the journal is kept at {env.Journal().FilePath}: fix the cause and run recover again");
                    return ExitRollbackFailed;
                }

                return 0;
            }

            if (file is null)
            {
                Console.Error.WriteLine($"aifactory-agent profile {verb}: --file is required");
                return ExitInvalid;
            }

            // Bounded and regular files only: a FIFO named by mistake is refused, not waited on.
            string yaml = BoundedFile.ReadText(file, ProfileYaml.MaxBytes) ?? throw new FileNotFoundException($"{file}: does not exist", file);
            if (verb == "plan")
            {
                ProfilePlan plan = manager.Plan(yaml).Plan;
                if (!plan.IsValid)
                {
                    throw new ProfileFormatException(plan.Errors);
                }

                PrintPlan(plan);
                return 0;
            }

            ProfileApplyResult result = manager.Apply(yaml, "cli:" + file);
            foreach (StepOutcome s in result.Report.Steps)
            {
                Console.Out.WriteLine($"step {s.Index} [{s.Kind}] {s.Description}: {(s.Ok ? "ok" : "FAILED")} {s.Elapsed.TotalMilliseconds:0.0} ms ({s.Detail})");
            }

            foreach (string line in result.Report.RolledBack)
            {
                Console.Out.WriteLine("rolled back: " + line);
            }

            foreach (string line in result.Report.RollbackErrors)
            {
                Console.Out.WriteLine("rollback FAILED: " + line);
            }

            if (result.Report.Succeeded)
            {
                Console.Out.WriteLine($"applied: {result.Plan.Steps.Count} steps, {result.Report.Writes} writes");
                return 0;
            }

            StepFailure f = result.Report.Failure!;
            Console.Out.WriteLine($"FAILED at step {f.Index}: {f.Message}{FailureWhere(f)}; " + (result.Report.RollbackErrors.Count == 0
                ? "everything this apply changed was rolled back"
                : $"the rollback FAILED for {result.Report.RollbackErrors.Count} inverse actions: the node is half changed, the journal is kept at {result.Report.JournalKept}; fix the cause, then run `aifactory-agent profile recover`"));
            return result.Report.RollbackErrors.Count == 0 ? 1 : ExitRollbackFailed;
        }
        catch (ProfileFormatException ex)
        {
            if (ex.Errors.Count > 0 && ex.Errors.All(e => e.HoldsUnknown) && holds.AgentHolding is { } held)
            {
                // Nothing wrong with the profile: only the agent running on this state dir knows what leases hold.
                Console.Error.WriteLine(StateDirInUse(verb, file ?? "FILE", options.StateDir, held, ex.Errors));
                return ExitStateDirInUse;
            }

            foreach (ProfileValidationError e in ex.Errors)
            {
                Console.Error.WriteLine($"invalid profile: {e}");
            }

            return ExitInvalid;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("aifactory-agent profile: " + ex.Message);
            return 1;
        }
    }

    /// <summary>
    /// The one line for a profile whose every error is that what leases hold is unknown because a running agent has
    /// the ledger open (<paramref name="held"/>: the file that showed it): the state dir, the agent, the fields
    /// refused, and what to do.
    /// </summary>
    internal static string StateDirInUse(string verb, string file, string stateDir, string held, IReadOnlyList<ProfileValidationError> errors)
    {
        string pid = Host.Hardware.Files.StateDirectoryLock.HolderPid(stateDir) is { } p ? $" (pid {p})" : string.Empty;
        string fields = string.Join(", ", errors.Select(e => e.Field).Distinct(StringComparer.Ordinal));
        return $"aifactory-agent profile {verb}: state-dir {stateDir} is in use: a running aifactory-agent{pid} holds its lease ledger ({held}), " +
            $"so what leases hold is unknown here and {fields} cannot be planned; {verb} the profile through that agent (aifactoryctl profile {verb} -f {file}), or stop it first" +
            (verb == "apply" ? "; nothing was changed" : string.Empty);
    }

    /// <summary>" (file F, errno N)" with what is known of where a step failed; empty when neither is.</summary>
    internal static string FailureWhere(StepFailure f) => (f.File, f.Errno) switch
    {
        (null, null) => string.Empty,
        (string file, null) => $" (file {file})",
        (null, int errno) => $" (errno {errno})",
        (string file, int errno) => $" (file {file}, errno {errno})",
    };

    internal static void PrintPlan(ProfilePlan plan)
    {
        foreach (string w in plan.Warnings)
        {
            Console.Out.WriteLine("warning: " + w);
        }

        if (plan.IsNoOp)
        {
            Console.Out.WriteLine("the profile holds: nothing to change");
            return;
        }

        for (int i = 0; i < plan.Steps.Count; i++)
        {
            Console.Out.WriteLine($"{i,3} {plan.Steps[i].Kind,-9} {plan.Steps[i].Describe()}   [{plan.Steps[i].Field}]");
        }
    }
}
