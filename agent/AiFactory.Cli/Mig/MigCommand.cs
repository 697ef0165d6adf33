using System.CommandLine;
using AiFactory.Cli.Input;
using AiFactory.Cli.Output;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;

namespace AiFactory.Cli.Mig;

/// <summary>
/// <c>aifactoryctl mig show|plan|apply|mode</c>: MIG layouts with explicit placements. <c>plan</c> changes nothing;
/// <c>apply</c> keeps the instances that can stay and creates the rest at planned placements.
/// </summary>
internal static class MigCommand
{
    private const string Service = "/aifactory.agent.v1.Gpu/";

    public static Command Create()
    {
        var command = new Command("mig", "MIG layouts: show, plan, apply, mode");
        command.Subcommands.Add(Show());
        command.Subcommands.Add(PlanOrApply("plan", "plan a layout without changing anything"));
        command.Subcommands.Add(PlanOrApply("apply", "apply a layout: keep what can stay, create the rest at explicit placements"));
        command.Subcommands.Add(Mode());
        return command;
    }

    private static Argument<string> GpuArgument() => NonEmpty.Validated(new Argument<string>("gpu") { Description = "GPU index, bus id (0000:18:00.0) or UUID" });

    private static Command Show()
    {
        var gpu = GpuArgument();
        var command = new Command("show", "profiles (with placements and remaining capacity) and instances of one GPU");
        command.Arguments.Add(gpu);
        command.SetAction(async (parse, ct) =>
        {
            using var channel = GlobalOptions.OpenChannel(parse);
            try
            {
                MigLayout layout = await channel.UnaryAsync(Service + "GetMigLayout", new GetMigLayoutRequest { Gpu = parse.GetValue(gpu)! }, MigLayout.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                if (parse.GetValue(GlobalOptions.Json))
                {
                    ProtoJson.Print(layout);
                    return ExitCodes.Ok;
                }

                Console.Out.WriteLine($"{layout.BusId}: MIG {(layout.MigEnabled ? "enabled" : "disabled")}{(layout.MigPending != layout.MigEnabled ? $" (pending {(layout.MigPending ? "enabled" : "disabled")}: needs a reset)" : string.Empty)}, {layout.ComputeSlices} compute / {layout.MemorySlices} memory slices");
                Console.Out.WriteLine($"{"PROFILE",-12} {"ID",3} {"SLICES",6} {"MEMORY",9} {"MAX",3} {"FREE",4} PLACEMENTS (start:size)");
                foreach (MigProfileInfo p in layout.Profiles)
                {
                    Console.Out.WriteLine($"{p.Name,-12} {p.Id,3} {p.SliceCount,6} {p.MemoryMib + "M",9} {p.InstanceCount,3} {p.RemainingCapacity,4} {string.Join(" ", p.Placements.Select(x => $"{x.Start}:{x.Size}"))}");
                }

                Console.Out.WriteLine(layout.Instances.Count == 0 ? "no GPU instances" : $"{"GI",3} {"PROFILE",-12} {"PLACEMENT",9} COMPUTE INSTANCES");
                foreach (MigGpuInstanceInfo i in layout.Instances)
                {
                    Console.Out.WriteLine($"{i.Id,3} {i.Profile,-12} {$"{i.Placement.Start}:{i.Placement.Size}",9} {(i.Orphaned ? "none (orphaned)" : string.Join(", ", i.ComputeInstances.Select(c => $"{c.Id}:{c.Profile}")))}");
                }

                Console.Out.WriteLine(Slots(layout));
                return ExitCodes.Ok;
            }
            catch (RpcException ex)
            {
                return RpcErrors.Report(ex);
            }
        });
        return command;
    }

    private static Command PlanOrApply(string name, string description)
    {
        var gpu = NonEmpty.Validated(new Argument<string?>("gpu") { Description = "GPU index, bus id (0000:18:00.0) or UUID (with --config: the first of the GPUs; none: every GPU)", Arity = ArgumentArity.ZeroOrOne });
        var profiles = NonEmpty.Validated(new Argument<string[]>("profiles") { Description = "wanted profiles, e.g. 3g.40gb 2g.20gb 1g.10gb 1g.10gb (or comma-separated); with --config: more GPUs", Arity = ArgumentArity.ZeroOrMore });
        var keep = new Option<bool>("--keep-existing") { Description = "only add: every existing instance must stay" };
        var config = new Option<string?>("--config") { Description = "a mig-parted config file (version: v1, mig-configs): the agent resolves devices and device-filter per GPU" };
        var select = new Option<string?>("--select") { Description = "the mig-configs name to use from --config" };
        var command = new Command(name, description);
        command.Arguments.Add(gpu);
        command.Arguments.Add(profiles);
        command.Options.Add(keep);
        command.Options.Add(config);
        command.Options.Add(select);
        command.SetAction(async (parse, ct) =>
        {
            string? file = parse.GetValue(config);
            string? selected = parse.GetValue(select);
            string? first = parse.GetValue(gpu);
            string[] rest = parse.GetValue(profiles) ?? [];
            string text = string.Empty;
            if (file is not null)
            {
                if (string.IsNullOrWhiteSpace(selected))
                {
                    Console.Error.WriteLine("aifactoryctl: --config needs --select NAME (a name under mig-configs)");
                    return ExitCodes.Usage;
                }

                if (RequestFile.ReadOrReport("--config", file) is not { } read)
                {
                    return ExitCodes.Usage;
                }

                text = read;
            }
            else if (selected is not null)
            {
                Console.Error.WriteLine("aifactoryctl: --select needs --config FILE");
                return ExitCodes.Usage;
            }
            else if (first is null || rest.Length == 0)
            {
                Console.Error.WriteLine($"aifactoryctl: mig {name} GPU PROFILE... (or --config FILE --select NAME [GPU...])");
                return ExitCodes.Usage;
            }

            using var channel = GlobalOptions.OpenChannel(parse);
            List<MigBatch.Target> targets;
            if (file is null)
            {
                targets = [new MigBatch.Target(first!, string.Empty)];
            }
            else if (first is not null)
            {
                targets = [.. new[] { first }.Concat(rest).Select(g => new MigBatch.Target(g, string.Empty))];
            }
            else
            {
                try
                {
                    ListGpusResponse all = await channel.UnaryAsync(Service + "ListGpus", new ListGpusRequest(), ListGpusResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                    targets = [.. all.Gpus.Select(g => new MigBatch.Target(g.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), g.BusId))];
                }
                catch (RpcException ex)
                {
                    return RpcErrors.Report(ex);
                }
            }

            List<string> wanted = file is null ? [.. rest] : [];
            bool keepExisting = parse.GetValue(keep);
            bool json = parse.GetValue(GlobalOptions.Json);

            // With --config the JSON is an array, whatever the number of GPUs; one GPU named with its profiles prints its object alone.
            bool array = file is not null;
            if (name == "plan")
            {
                List<MigBatch.Outcome<MigPlanResult>> plans = await MigBatch.RunAsync(targets, gpu =>
                {
                    var request = new PlanMigRequest { Gpu = gpu, KeepExisting = keepExisting, MigPartedConfig = text, MigPartedSelect = selected ?? string.Empty };
                    request.Profiles.AddRange(wanted);
                    return channel.UnaryAsync(Service + "PlanMig", request, MigPlanResult.Parser, GlobalOptions.Call(parse, ct));
                }).ConfigureAwait(false);
                return Print(plans, json, array, WritePlan, p => p.Refused);
            }

            List<MigBatch.Outcome<ApplyMigResponse>> applies = await MigBatch.RunAsync(targets, gpu =>
            {
                var request = new ApplyMigRequest { Gpu = gpu, KeepExisting = keepExisting, MigPartedConfig = text, MigPartedSelect = selected ?? string.Empty };
                request.Profiles.AddRange(wanted);
                return channel.UnaryAsync(Service + "ApplyMig", request, ApplyMigResponse.Parser, GlobalOptions.Call(parse, ct));
            }).ConfigureAwait(false);
            return Print(applies, json, array, WriteApply, r => r.Plan?.Refused == true);
        });
        return command;
    }

    /// <summary>
    /// Prints a batch's results to stdout (one JSON document, or a block per GPU) and its failures to stderr; returns
    /// the exit status. Without <paramref name="array"/> (one GPU named with its profiles) the JSON is that GPU's object alone.
    /// </summary>
    internal static int Print<T>(List<MigBatch.Outcome<T>> outcomes, bool json, bool array, Action<MigBatch.Outcome<T>, TextWriter> block, Func<T, bool> refused, TextWriter? stdout = null, TextWriter? stderr = null)
        where T : class, Google.Protobuf.IMessage
    {
        TextWriter o = stdout ?? Console.Out;
        if (json && array)
        {
            MigBatch.WriteJson(outcomes, o);
        }

        foreach (MigBatch.Outcome<T> outcome in outcomes)
        {
            if (outcome.Result is { } result && json && !array)
            {
                o.WriteLine(ProtoJson.Format(result));
            }
            else if (outcome.Result is not null && !json)
            {
                block(outcome, o);
            }
        }

        MigBatch.WriteErrors(outcomes, stderr ?? Console.Error);
        return MigBatch.ExitCode(outcomes, refused);
    }

    private static Command Mode()
    {
        var gpu = GpuArgument();
        var enable = new Option<bool>("--enable") { Description = "enable MIG" };
        var disable = new Option<bool>("--disable") { Description = "disable MIG" };
        var reset = new Option<bool>("--reset") { Description = "if the change needs a reset, reset this GPU (only this one)" };
        var command = new Command("mode", "enable or disable MIG on one GPU; refuses while processes use it");
        command.Arguments.Add(gpu);
        command.Options.Add(enable);
        command.Options.Add(disable);
        command.Options.Add(reset);
        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(enable) == parse.GetValue(disable))
            {
                Console.Error.WriteLine("aifactoryctl: give exactly one of --enable or --disable");
                return ExitCodes.Usage;
            }

            using var channel = GlobalOptions.OpenChannel(parse);
            try
            {
                var request = new SetMigModeRequest { Gpu = parse.GetValue(gpu)!, Enabled = parse.GetValue(enable), Reset = parse.GetValue(reset) };
                SetMigModeResponse r = await channel.UnaryAsync(Service + "SetMigMode", request, SetMigModeResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                if (parse.GetValue(GlobalOptions.Json))
                {
                    ProtoJson.Print(r);
                }
                else
                {
                    Console.Out.WriteLine(r.Message);
                }

                return r.ResetRequired && !r.ResetDone ? ExitCodes.NotOk : ExitCodes.Ok;
            }
            catch (RpcException ex)
            {
                return RpcErrors.Report(ex);
            }
        });
        return command;
    }

    /// <summary>One GPU's plan: a header with its bus id, then what stays, goes and is created; or one line when skipped or refused.</summary>
    internal static void WritePlan(MigBatch.Outcome<MigPlanResult> outcome, TextWriter o)
    {
        MigPlanResult plan = outcome.Result!;
        string header = MigBatch.Header(outcome.Target, plan.BusId.Length > 0 ? plan.BusId : outcome.Target.BusId);
        if (plan.Skipped.Length > 0)
        {
            o.WriteLine($"{header}: skipped: {plan.Skipped}");
            return;
        }

        if (plan.Refused)
        {
            o.WriteLine($"{header}: refused: {plan.Refusal}");
            return;
        }

        o.WriteLine(header + ":");
        foreach (MigGpuInstanceInfo k in plan.Keep)
        {
            o.WriteLine($"  keep    {k.Profile}@{k.Placement.Start}:{k.Placement.Size} (GPU instance {k.Id})");
        }

        foreach (MigGpuInstanceInfo d in plan.Destroy)
        {
            o.WriteLine($"  destroy {d.Profile}@{d.Placement.Start}:{d.Placement.Size} (GPU instance {d.Id})");
        }

        foreach (MigCreateStep c in plan.Create)
        {
            o.WriteLine($"  create  {c.Profile}@{c.Placement.Start}:{c.Placement.Size}");
        }

        o.WriteLine($"  largest free run: {plan.LargestFreeRun} memory slices (policy {plan.Policy})");
    }

    /// <summary>One GPU's apply: a header with its bus id, then the orphans removed, the steps done and the slices read back.</summary>
    internal static void WriteApply(MigBatch.Outcome<ApplyMigResponse> outcome, TextWriter o)
    {
        ApplyMigResponse r = outcome.Result!;
        string busId = r.Plan?.BusId is { Length: > 0 } b ? b : r.Layout?.BusId is { Length: > 0 } l ? l : outcome.Target.BusId;
        string header = MigBatch.Header(outcome.Target, busId);
        if (r.Plan is { Skipped.Length: > 0 } skipped)
        {
            o.WriteLine($"{header}: skipped: {skipped.Skipped}");
            return;
        }

        if (r.Plan is { Refused: true } refused)
        {
            o.WriteLine($"{header}: refused: {refused.Refusal}");
            return;
        }

        o.WriteLine(header + ":");
        foreach (string orphan in r.OrphansRemoved)
        {
            o.WriteLine($"  removed orphaned GPU instance {orphan}");
        }

        foreach (string step in r.Steps)
        {
            o.WriteLine("  " + step);
        }

        o.WriteLine(r.Steps.Count == 0 ? "  already as wanted, nothing changed" : "  applied and read back");
        if (Slots(r.Layout) is { Length: > 0 } slots)
        {
            o.WriteLine("  " + slots);
        }
    }

    /// <summary>One line picturing the memory slices: which instance holds each.</summary>
    private static string Slots(MigLayout? layout)
    {
        if (layout is null || layout.MemorySlices == 0)
        {
            return string.Empty;
        }

        var cells = Enumerable.Repeat(".", (int)layout.MemorySlices).ToArray();
        foreach (MigGpuInstanceInfo i in layout.Instances)
        {
            for (uint s = i.Placement.Start; s < i.Placement.Start + i.Placement.Size && s < cells.Length; s++)
            {
                cells[s] = i.Profile.Split('.')[0];
            }
        }

        return "memory slices: [" + string.Join("|", cells) + "]";
    }
}
