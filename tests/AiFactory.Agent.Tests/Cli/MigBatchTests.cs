using System.Text.Json;
using AiFactory.Cli.Mig;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;

namespace AiFactory.Agent.Tests.Cli;

/// <summary><c>aifactoryctl mig plan|apply --config</c> on several GPUs: every GPU asked, one document, each block headed.</summary>
public sealed class MigBatchTests
{
    private static readonly MigBatch.Target[] ThreeGpus =
    [
        new("0", "0000:18:00.0"),
        new("1", "0000:2a:00.0"),
        new("2", "0000:3a:00.0"),
    ];

    [Fact]
    public async Task A_gpu_that_fails_does_not_stop_the_gpus_after_it()
    {
        var asked = new List<string>();

        List<MigBatch.Outcome<MigPlanResult>> outcomes = await MigBatch.RunAsync(ThreeGpus, gpu =>
        {
            asked.Add(gpu);
            return gpu == "1" ? throw new RpcException(StatusCode.FailedPrecondition, "MIG is disabled on 0000:2a:00.0") : Task.FromResult(Plan(gpu));
        });

        Assert.Equal(["0", "1", "2"], asked);
        Assert.Equal(StatusCode.FailedPrecondition, outcomes[1].Error!.StatusCode);
        Assert.NotNull(outcomes[2].Result);
    }

    [Fact]
    public async Task An_agent_that_stops_answering_ends_the_batch()
    {
        var asked = new List<string>();

        List<MigBatch.Outcome<MigPlanResult>> outcomes = await MigBatch.RunAsync(ThreeGpus, gpu =>
        {
            asked.Add(gpu);
            return gpu == "1" ? throw new RpcException(StatusCode.Unavailable, "cannot connect") : Task.FromResult(Plan(gpu));
        });

        Assert.Equal(["0", "1"], asked);
        Assert.Equal(2, outcomes.Count);
    }

    [Fact]
    public async Task A_refused_config_file_ends_the_batch_as_every_gpu_would_get_the_same_line()
    {
        var asked = new List<string>();

        List<MigBatch.Outcome<MigPlanResult>> outcomes = await MigBatch.RunAsync(ThreeGpus, gpu =>
        {
            asked.Add(gpu);
            return Task.FromException<MigPlanResult>(new RpcException(StatusCode.InvalidArgument, "mig_parted_select: no mig-config \"nope\" (the file has small)"));
        });

        Assert.Equal(["0"], asked);
        Assert.Equal(StatusCode.InvalidArgument, Assert.Single(outcomes).Error!.StatusCode);
    }

    [Fact]
    public async Task An_invalid_argument_about_one_gpu_does_not_end_the_batch()
    {
        var asked = new List<string>();

        await MigBatch.RunAsync(ThreeGpus, gpu =>
        {
            asked.Add(gpu);
            return gpu == "1" ? throw new RpcException(StatusCode.InvalidArgument, "profiles: at least one profile name, e.g. 3g.40gb") : Task.FromResult(Plan(gpu));
        });

        Assert.Equal(["0", "1", "2"], asked);
    }

    [Fact]
    public void Json_is_one_array_with_the_failed_gpu_named_by_its_bus_id_and_error()
    {
        List<MigBatch.Outcome<MigPlanResult>> outcomes = ThreeWithTheMiddleFailed();
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        int exit = MigCommand.Print(outcomes, json: true, array: true, MigCommand.WritePlan, p => p.Refused, stdout, stderr);

        using JsonDocument json = JsonDocument.Parse(stdout.ToString());
        JsonElement[] gpus = [.. json.RootElement.EnumerateArray()];
        Assert.Equal(3, gpus.Length);
        Assert.Equal("0000:18:00.0", gpus[0].GetProperty("busId").GetString());
        Assert.Equal("0", gpus[0].GetProperty("gpu").GetString());
        Assert.Equal("0000:2a:00.0", gpus[1].GetProperty("busId").GetString());
        Assert.Equal("FailedPrecondition", gpus[1].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("MIG is disabled on 0000:2a:00.0", gpus[1].GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("0000:3a:00.0", gpus[2].GetProperty("busId").GetString());
        Assert.Equal(1, exit);
        Assert.Equal("aifactoryctl: 0000:2a:00.0 (GPU 1): FailedPrecondition: MIG is disabled on 0000:2a:00.0", stderr.ToString().TrimEnd('\n'));
    }

    [Fact]
    public void The_table_heads_each_gpus_block_with_its_bus_id()
    {
        var stdout = new StringWriter();

        int exit = MigCommand.Print(ThreeWithTheMiddleFailed(), json: false, array: true, MigCommand.WritePlan, p => p.Refused, stdout, new StringWriter());

        string[] lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
            [
                "0000:18:00.0 (GPU 0):",
                "  create  1g.10gb@0:1",
                "  largest free run: 7 memory slices (policy balanced)",
                "0000:3a:00.0 (GPU 2):",
                "  create  1g.10gb@0:1",
                "  largest free run: 7 memory slices (policy balanced)",
            ],
            lines);
        Assert.Equal(1, exit);
    }

    [Fact]
    public void Every_gpu_planned_and_none_refused_exits_zero()
    {
        List<MigBatch.Outcome<MigPlanResult>> outcomes = [.. ThreeGpus.Select(t => new MigBatch.Outcome<MigPlanResult>(t, Plan(t.Gpu), null))];

        Assert.Equal(0, MigCommand.Print(outcomes, json: true, array: true, MigCommand.WritePlan, p => p.Refused, new StringWriter(), new StringWriter()));
    }

    [Fact]
    public void A_refused_plan_exits_one_and_an_agent_that_stopped_answering_69()
    {
        MigPlanResult refused = Plan("0");
        refused.Refused = true;
        List<MigBatch.Outcome<MigPlanResult>> outcomes =
        [
            new(ThreeGpus[0], refused, null),
            new(ThreeGpus[1], null, new RpcException(StatusCode.Unavailable, "cannot connect")),
        ];

        Assert.Equal(1, MigBatch.ExitCode(outcomes.Take(1).ToList(), p => p.Refused));
        Assert.Equal(69, MigBatch.ExitCode(outcomes, p => p.Refused));
    }

    [Fact]
    public void Several_applies_print_one_json_array_too()
    {
        List<MigBatch.Outcome<ApplyMigResponse>> outcomes =
        [.. ThreeGpus.Select(t => new MigBatch.Outcome<ApplyMigResponse>(t, new ApplyMigResponse { Plan = Plan(t.Gpu), Steps = { "created 1g.10gb" } }, null))];
        var stdout = new StringWriter();

        int exit = MigCommand.Print(outcomes, json: true, array: true, MigCommand.WriteApply, r => r.Plan.Refused, stdout, new StringWriter());

        using JsonDocument json = JsonDocument.Parse(stdout.ToString());
        Assert.Equal(["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0"], json.RootElement.EnumerateArray().Select(g => g.GetProperty("plan").GetProperty("busId").GetString()));
        Assert.Equal(0, exit);
    }

    [Fact]
    public void An_applys_block_is_headed_by_its_bus_id()
    {
        var outcome = new MigBatch.Outcome<ApplyMigResponse>(new MigBatch.Target("0", string.Empty), new ApplyMigResponse { Plan = Plan("0"), Steps = { "created 1g.10gb at 0:1" } }, null);
        var stdout = new StringWriter();

        MigCommand.WriteApply(outcome, stdout);

        Assert.Equal(["0000:18:00.0 (GPU 0):", "  created 1g.10gb at 0:1", "  applied and read back"], stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static List<MigBatch.Outcome<MigPlanResult>> ThreeWithTheMiddleFailed() =>
    [
        new(ThreeGpus[0], Plan("0"), null),
        new(ThreeGpus[1], null, new RpcException(StatusCode.FailedPrecondition, "MIG is disabled on 0000:2a:00.0")),
        new(ThreeGpus[2], Plan("2"), null),
    ];

    private static MigPlanResult Plan(string gpu) => new()
    {
        BusId = ThreeGpus.Single(t => t.Gpu == gpu).BusId,
        Create = { new MigCreateStep { Profile = "1g.10gb", Placement = new MigPlacementRange { Start = 0, Size = 1 } } },
        LargestFreeRun = 7,
        Policy = "balanced",
    };
}
