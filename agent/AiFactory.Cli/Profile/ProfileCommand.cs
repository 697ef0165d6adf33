using System.CommandLine;
using AiFactory.Cli.Input;
using AiFactory.Cli.Output;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;

namespace AiFactory.Cli.Profile;

/// <summary>
/// <c>aifactoryctl profile plan -f FILE</c> (the steps and the diff, nothing written), <c>profile apply -f FILE</c>
/// (exit 1 when a step failed and was rolled back, 3 when the rollback failed too), <c>profile get</c> (the stored
/// profile and its drift).
/// Invalid profiles exit 2 with one line per error (<see cref="InvalidProfileLines"/>).
/// </summary>
internal static class ProfileCommand
{
    private const string Service = "/aifactory.agent.v1.Profile/";

    public static Command Create()
    {
        var command = new Command("profile", "plan, apply or show the node profile (vfio, SR-IOV, hugepages, host CPUs)");
        command.Subcommands.Add(Plan());
        command.Subcommands.Add(Apply());
        command.Subcommands.Add(Get());
        return command;
    }

    private static Command Plan()
    {
        var file = FileOption();
        var command = new Command("plan", "show the steps that would make the profile hold, and the diff from now; writes nothing");
        command.Options.Add(file);
        command.SetAction(async (parse, ct) =>
        {
            if (RequestFile.ReadOrReport("--file", parse.GetValue(file)!) is not { } yaml)
            {
                return ExitCodes.Usage;
            }

            using var channel = GlobalOptions.OpenChannel(parse);
            try
            {
                PlanProfileResponse response = await channel.UnaryAsync(Service + "PlanProfile", new PlanProfileRequest { Yaml = yaml }, PlanProfileResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                if (parse.GetValue(GlobalOptions.Json))
                {
                    ProtoJson.Print(response);
                    return ExitCodes.Ok;
                }

                foreach (string w in response.Warnings)
                {
                    Console.Out.WriteLine("warning: " + w);
                }

                Console.Out.WriteLine(response.NoOp ? "the profile holds: nothing to change" : $"{response.Steps.Count} steps:");
                foreach (ProfilePlanStep s in response.Steps)
                {
                    Console.Out.WriteLine($"{s.Index,3} {s.Kind,-9} {s.Description}   [{s.Field}]");
                }

                return ExitCodes.Ok;
            }
            catch (RpcException ex)
            {
                return Report(ex);
            }
        });
        return command;
    }

    private static Command Apply()
    {
        var file = FileOption();
        var command = new Command("apply", "apply the profile: journaled, each write read back, rolled back on failure");
        command.Options.Add(file);
        command.SetAction(async (parse, ct) =>
        {
            if (RequestFile.ReadOrReport("--file", parse.GetValue(file)!) is not { } yaml)
            {
                return ExitCodes.Usage;
            }

            using var channel = GlobalOptions.OpenChannel(parse);
            try
            {
                ApplyProfileResponse response = await channel.UnaryAsync(Service + "ApplyProfile", new ApplyProfileRequest { Yaml = yaml }, ApplyProfileResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                if (parse.GetValue(GlobalOptions.Json))
                {
                    ProtoJson.Print(response);
                }
                else
                {
                    foreach (ProfileStepResult s in response.Steps)
                    {
                        Console.Out.WriteLine($"{s.Index,3} {s.Kind,-9} {s.Description}: {(s.Ok ? "ok" : "FAILED")} {s.ElapsedMs:0.0} ms ({s.Detail})");
                    }

                    foreach (string r in response.RolledBack)
                    {
                        Console.Out.WriteLine("rolled back: " + r);
                    }

                    foreach (string r in response.RollbackErrors)
                    {
                        Console.Out.WriteLine("rollback FAILED: " + r);
                    }

                    Console.Out.WriteLine(response.Succeeded
                        ? $"applied ({response.ApplyId}): {response.Steps.Count} steps, {response.Writes} writes"
                        : $"FAILED: {response.Failure}{Where(response)}; " + (response.RollbackErrors.Count == 0
                            ? "everything this apply changed was rolled back"
                            : $"the rollback FAILED for {response.RollbackErrors.Count} inverse actions: the node is half changed and the journal {response.Journal} is kept; fix the cause, then run `aifactory-agent profile recover` on the node (applies are refused until it succeeds)"));
                }

                return response.Succeeded ? ExitCodes.Ok : response.RollbackErrors.Count == 0 ? ExitCodes.NotOk : ExitCodes.RollbackFailed;
            }
            catch (RpcException ex)
            {
                return Report(ex);
            }
        });
        return command;
    }

    private static Command Get()
    {
        var command = new Command("get", "show the stored profile and whether the node still matches it");
        command.SetAction(async (parse, ct) =>
        {
            using var channel = GlobalOptions.OpenChannel(parse);
            try
            {
                GetProfileResponse response = await channel.UnaryAsync(Service + "GetProfile", new GetProfileRequest(), GetProfileResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                return WriteGet(response, parse.GetValue(GlobalOptions.Json), Console.Out);
            }
            catch (RpcException ex)
            {
                return Report(ex);
            }
        });
        return command;
    }

    /// <summary>
    /// Prints <c>profile get</c>'s answer (JSON, or the stored YAML under comment lines) and returns the exit status,
    /// the same either way: 1 when a stored profile no longer holds (drift), else 0.
    /// </summary>
    internal static int WriteGet(GetProfileResponse response, bool json, TextWriter o)
    {
        int exit = response.Source.Length == 0 || response.Holds ? ExitCodes.Ok : ExitCodes.NotOk;
        if (json)
        {
            o.WriteLine(ProtoJson.Format(response));
            return exit;
        }

        if (response.Source.Length == 0)
        {
            o.WriteLine("no profile applied");
            return exit;
        }

        o.WriteLine($"# {response.Source}: {(response.Holds ? "holds" : "DRIFT")}");
        foreach (ProfilePlanStep s in response.Drift)
        {
            o.WriteLine($"# drift: {s.Description}");
        }

        foreach (string e in response.Errors)
        {
            o.WriteLine($"# error: {e}");
        }

        o.Write(response.Yaml);
        return exit;
    }

    /// <summary>" (file F, errno N)" with what the agent knows of where the step failed.</summary>
    private static string Where(ApplyProfileResponse r) => (r.FailedFile.Length > 0, r.Errno != 0) switch
    {
        (false, false) => string.Empty,
        (true, false) => $" (file {r.FailedFile})",
        (false, true) => $" (errno {r.Errno})",
        (true, true) => $" (file {r.FailedFile}, errno {r.Errno})",
    };

    private static Option<string> FileOption() => new("--file", "-f") { Description = "the profile (YAML, version: v1)", Required = true };

    private static int Report(RpcException ex)
    {
        if (ex.StatusCode == StatusCode.InvalidArgument)
        {
            foreach (string line in InvalidProfileLines(ex.Detail))
            {
                Console.Error.WriteLine(line);
            }

            return ExitCodes.Usage;
        }

        return RpcErrors.Report(ex);
    }

    /// <summary>
    /// The lines for an INVALID_ARGUMENT answer: <c>invalid profile: field: reason</c>, one for each error the agent
    /// sent, one a line (profile.proto); a reason may hold "; " itself, so that is no separator.
    /// </summary>
    internal static IEnumerable<string> InvalidProfileLines(string detail) =>
        detail.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(e => "invalid profile: " + e);
}
