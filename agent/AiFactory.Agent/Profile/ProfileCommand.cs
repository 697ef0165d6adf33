using System.CommandLine;
using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Logging;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Profile;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Profile;

/// <summary>
/// <c>aifactory-agent profile plan|apply|recover</c>: the profile without the daemon (for a first boot, a rescue
/// shell, and the kernel-tier tests). Same planner, applier, journal and state dir as the daemon; exit 0 on
/// success, 1 on a failed (rolled back) apply, 2 on invalid input.
/// </summary>
internal static class ProfileCommand
{
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

        using ILoggerFactory logs = LoggerFactory.Create(b => b.AddProvider(new StdoutLoggerProvider(Console.Error, false, LogLevel.Information)).SetMinimumLevel(LogLevel.Information));
        // MIG steps (and their journaled inverses) go through the same NVML layer as in the daemon; without the
        // driver it is absent and only a mig section is refused. The MIG instances leases hold come from the lease
        // ledger in the state dir, as the daemon's come from its live ledger: layouts are planned around them, and a
        // ledger a running agent has open refuses the mig section (that agent must make the change).
        using var nvml = new GpuNvml(options.NvmlLibrary, options.SysfsRoot);
        var inventory = new GpuInventory(nvml, new GpuHealthRegistry());
        var applier = new MigApplier(nvml, inventory, new Leases.StoredLeaseHolds(options.StateDir));
        var env = ProfileEnvironment.FromOptions(options) with { Mig = new ProfileMig(nvml, inventory, applier, options.ProcfsRoot), Leases = new Leases.StoredLeaseHolds(options.StateDir) };
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

                return r.Errors.Count == 0 ? 0 : 1;
            }

            if (file is null)
            {
                Console.Error.WriteLine($"aifactory-agent profile {verb}: --file is required");
                return 2;
            }

            string yaml = File.ReadAllText(file);
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

            Console.Out.WriteLine(result.Report.Succeeded
                ? $"applied: {result.Plan.Steps.Count} steps, {result.Report.Writes} writes"
                : $"FAILED at step {result.Report.Failure!.Index}: {result.Report.Failure.Message} (file {result.Report.Failure.File ?? "-"}, errno {result.Report.Failure.Errno ?? 0}); rolled back");
            return result.Report.Succeeded ? 0 : 1;
        }
        catch (ProfileFormatException ex)
        {
            foreach (ProfileValidationError e in ex.Errors)
            {
                Console.Error.WriteLine($"invalid profile: {e}");
            }

            return 2;
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine("aifactory-agent profile: " + ex.Message);
            return 1;
        }
    }

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
