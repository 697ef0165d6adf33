using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc.Client;
using Grpc.Health.V1;

namespace AiFactory.EndToEnd.Tests;

/// <summary>
/// Once start-up has settled, the native-AOT agent unmaps the read-only pages of its executable that only start-up
/// needed (Host.Hardware's StartupPages), and goes on serving from pages it faults back in; after work and a quiet
/// period (<c>idle-trim</c>) it trims its heap and unmaps them again.
/// </summary>
public sealed partial class StartupMemoryTests
{
    [Fact]
    public async Task The_native_agent_gives_back_its_start_up_pages_and_keeps_serving()
    {
        using AgentUnderTest agent = AgentUnderTest.Start(extraArgs: ["--log-level", "debug"]);
        Assert.NotNull(agent.NextNotification());

        string? line = await WaitForLineAsync(agent, "Start-up pages unmapped:");
        if (!Binaries.NativeAot)
        {
            // The JIT build (dotnet aifactory-agent.dll) leaves the runtime's pages alone.
            Assert.Null(line);
            return;
        }

        Assert.NotNull(line);
        Match m = Dropped().Match(line);
        Assert.True(m.Success, line);
        long before = long.Parse(m.Groups["before"].Value, CultureInfo.InvariantCulture);
        long after = long.Parse(m.Groups["after"].Value, CultureInfo.InvariantCulture);
        Assert.True(before > 4096, $"the executable had only {before} KiB resident before: {line}");
        Assert.True(after < before / 2, $"{after} KiB still resident of {before}: {line}");
        Assert.EndsWith(Path.GetFileName(Binaries.Agent.File), m.Groups["exe"].Value, StringComparison.Ordinal);

        // Everything the daemon runs afterwards faults its code back in: it still answers, with real data.
        using GrpcChannel channel = agent.Channel();
        HealthCheckResponse health = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        HostInventory inventory = await channel.UnaryAsync("/aifactory.agent.v1.Inventory/GetInventory", new GetInventoryRequest(), HostInventory.Parser);
        Assert.EndsWith(Path.Combine("fixture", "sys"), inventory.SysfsRoot, StringComparison.Ordinal);
        Assert.True(inventory.Generation >= 1, $"generation {inventory.Generation}");
        Assert.False(agent.Process.HasExited);
    }

    [Fact]
    public async Task After_work_and_a_quiet_period_the_agent_gives_memory_back_and_keeps_serving()
    {
        using AgentUnderTest agent = AgentUnderTest.Start(extraArgs: ["--log-level", "debug", "--idle-trim", "1"]);
        Assert.NotNull(agent.NextNotification());
        using GrpcChannel channel = agent.Channel();

        // Work that allocates well over the 256 KiB a trim needs, then nothing: the next quiet second trims. A loaded
        // machine may stretch a batch over the period boundary, so a batch is repeated until a trim is seen.
        string? line = null;
        var clock = Stopwatch.StartNew();
        while (line is null && clock.Elapsed < AgentUnderTest.Patience && !agent.Process.HasExited)
        {
            for (int i = 0; i < 100; i++)
            {
                await channel.UnaryAsync("/aifactory.agent.v1.Inventory/GetInventory", new GetInventoryRequest(), HostInventory.Parser);
            }

            line = await WaitForLineAsync(agent, "memory given back", TimeSpan.FromSeconds(5));
        }

        Assert.NotNull(line);
        Match m = Trimmed().Match(line);
        Assert.True(m.Success, line);
        long before = long.Parse(m.Groups["before"].Value, CultureInfo.InvariantCulture);
        long after = long.Parse(m.Groups["after"].Value, CultureInfo.InvariantCulture);
        long inUse = long.Parse(m.Groups["heap"].Value, CultureInfo.InvariantCulture);
        long committed = long.Parse(m.Groups["committed"].Value, CultureInfo.InvariantCulture);
        Assert.True(inUse > 0 && inUse <= committed, line);
        Assert.True(before > 0 && after > 0, line);
        if (Binaries.NativeAot)
        {
            // The executable's pages that the calls faulted in are unmapped again: the resident set falls.
            Assert.True(after < before, line);
        }

        // Trimmed once for that work, not once a second while idle (one more may follow if a stall split the last batch).
        int trims = agent.Process.Stdout.Count(l => l.Contains("memory given back", StringComparison.Ordinal));
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.InRange(agent.Process.Stdout.Count(l => l.Contains("memory given back", StringComparison.Ordinal)), trims, trims + 1);

        HostInventory inventory = await channel.UnaryAsync("/aifactory.agent.v1.Inventory/GetInventory", new GetInventoryRequest(), HostInventory.Parser);
        Assert.True(inventory.Generation >= 1, $"generation {inventory.Generation}");
        Assert.False(agent.Process.HasExited);
    }

    private static async Task<string?> WaitForLineAsync(AgentUnderTest agent, string text, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit && !agent.Process.HasExited)
        {
            if (agent.Process.Stdout.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
            {
                return line;
            }

            await Task.Delay(50);
        }

        return agent.Process.Stdout.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
    }

    private static async Task<string?> WaitForLineAsync(AgentUnderTest agent, string text)
    {
        // The JIT build never logs it; ten seconds after READY it would have (the first discovery of an empty tree is
        // quick), so its absence then is the answer.
        return await WaitForLineAsync(agent, text, Binaries.NativeAot ? AgentUnderTest.Patience : TimeSpan.FromSeconds(10));
    }

    [GeneratedRegex(@"Start-up pages unmapped: (?<before>\d+) KiB of (?<exe>\S+) were resident in \d+ read-only mappings, (?<after>\d+) KiB are now")]
    private static partial Regex Dropped();

    [GeneratedRegex(@"memory given back, (?<before>\d+) KiB resident before, (?<after>\d+) KiB now; GC heap (?<heap>\d+) KiB in use of (?<committed>\d+) KiB committed")]
    private static partial Regex Trimmed();
}
