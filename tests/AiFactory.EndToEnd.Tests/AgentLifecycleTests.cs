using System.Net.Sockets;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Grpc.Client;
using AiFactory.Tests.Shared;
using Grpc.Health.V1;

namespace AiFactory.EndToEnd.Tests;

/// <summary>The daemon under a systemd-like supervisor: READY, STATUS, WATCHDOG, STOPPING, SIGTERM.</summary>
public sealed class AgentLifecycleTests
{
    [Fact]
    public async Task A_second_agent_on_the_same_state_dir_is_refused_naming_the_first_and_the_first_keeps_serving()
    {
        using AgentUnderTest first = AgentUnderTest.StartReady(out _);
        string stateDir = Path.Combine(first.Dir, "state");
        string secondSocket = Path.Combine(first.Dir, "run", "second.sock");
        List<string> args = AgentUnderTest.Arguments(first.Dir);
        args[args.IndexOf("--socket") + 1] = secondSocket;

        (int status, string stdout, string stderr) = await RunningProcess.RunAsync(Binaries.Agent, args);
        (int discoverStatus, _, string discoverError) = await RunningProcess.RunAsync(Binaries.Agent, ["discover", "--sysfs-root", Path.Combine(first.Dir, "fixture", "sys"), "--procfs-root", Path.Combine(first.Dir, "fixture", "proc")]);

        Assert.Equal(73, status);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal($"aifactory-agent: another agent already uses state-dir {stateDir} (pid {first.Process.Id}, in {Path.Combine(stateDir, "agent.lock")})", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(File.Exists(secondSocket));
        Assert.True(discoverStatus == 0, discoverError);
        using GrpcChannel channel = first.Channel();
        HealthCheckResponse health = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    [Fact]
    public async Task Ready_is_sent_only_once_the_grpc_socket_accepts()
    {
        using AgentUnderTest agent = AgentUnderTest.StartReady(out string ready);

        // Connect at once: READY=1 must not come before the listener is bound.
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            probe.Connect(new UnixDomainSocketEndPoint(agent.Socket));
        }

        Assert.StartsWith("READY=1\n", ready, StringComparison.Ordinal);
        using GrpcChannel channel = agent.Channel();
        HealthCheckResponse health = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    [Fact]
    public void The_status_line_says_where_the_agent_serves_and_that_it_is_read_only()
    {
        using AgentUnderTest agent = AgentUnderTest.StartReady(out string ready);

        Assert.Equal($"READY=1\nSTATUS=serving on {agent.Socket} (read-only)", ready);
    }

    [Fact]
    public void An_abstract_notify_socket_works_like_a_path()
    {
        using AgentUnderTest agent = AgentUnderTest.Start(abstractNotifySocket: true);

        Assert.StartsWith("READY=1", agent.NextNotification(), StringComparison.Ordinal);
    }

    [Fact]
    public void With_watchdog_usec_the_agent_pings_the_watchdog_after_ready()
    {
        using AgentUnderTest agent = AgentUnderTest.StartReady(out _, new Dictionary<string, string?> { ["WATCHDOG_USEC"] = "200000" });

        Assert.Equal("WATCHDOG=1", agent.NextNotification());
        Assert.Equal("WATCHDOG=1", agent.NextNotification());
    }

    [Fact]
    public void A_watchdog_meant_for_another_process_is_not_pinged()
    {
        using AgentUnderTest agent = AgentUnderTest.StartReady(out _, new Dictionary<string, string?> { ["WATCHDOG_USEC"] = "20000", ["WATCHDOG_PID"] = "1" });

        agent.Process.Terminate();

        Assert.Equal("STOPPING=1\nSTATUS=stopping", agent.NextNotification());
    }

    [Fact]
    public async Task Sigterm_sends_stopping_exits_zero_and_removes_the_socket()
    {
        using AgentUnderTest agent = AgentUnderTest.StartReady(out _);

        agent.Process.Terminate();

        Assert.Equal("STOPPING=1\nSTATUS=stopping", agent.NextNotification());
        Assert.True(await agent.Process.WaitForExitAsync(AgentUnderTest.Patience), "agent did not exit after SIGTERM");
        Assert.True(agent.Process.ExitCode == 0, agent.Process.Describe());
        Assert.False(File.Exists(agent.Socket), "the socket file is left behind");
        Assert.Contains(agent.Process.Stdout, line => line.Contains("Stopping", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_notify_socket_whose_queue_is_full_neither_holds_up_start_nor_sigterm()
    {
        // A service manager that has stopped reading: a blocking send would never return from ApplicationStarted.
        using AgentUnderTest agent = AgentUnderTest.Start(new Dictionary<string, string?> { ["WATCHDOG_USEC"] = "200000" });
        agent.Notify.FillQueue();

        for (int i = 0; i < 600 && !agent.Process.Stdout.Any(l => l.Contains("Ready: ", StringComparison.Ordinal)); i++)
        {
            await Task.Delay(100);
        }

        Assert.Contains(agent.Process.Stdout, l => l.Contains("Ready: ", StringComparison.Ordinal));
        using (GrpcChannel channel = agent.Channel())
        {
            HealthCheckResponse health = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        }

        agent.Process.Terminate();

        Assert.True(await agent.Process.WaitForExitAsync(AgentUnderTest.Patience), "agent ignored SIGTERM: " + agent.Process.Describe());
        Assert.Equal(0, agent.Process.ExitCode);
        Assert.Single(agent.Process.Stdout, l => l.Contains("A systemd notification was lost", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Open_watch_streams_do_not_hold_shutdown_for_the_whole_shutdown_timeout()
    {
        // The agent runs with --shutdown-timeout 30: a stream left open would keep it for 30 s.
        using AgentUnderTest agent = AgentUnderTest.StartReady(out _);
        using GrpcChannel channel = agent.Channel();
        var statuses = new List<HealthCheckResponse.Types.ServingStatus>();
        var seenFirst = new TaskCompletionSource();
        bool watchEndedCleanly = false;
        Task watch = Task.Run(async () =>
        {
            try
            {
                await foreach (HealthCheckResponse r in channel.ServerStreamingAsync("/grpc.health.v1.Health/Watch", new HealthCheckRequest(), HealthCheckResponse.Parser))
                {
                    statuses.Add(r.Status);
                    seenFirst.TrySetResult();
                }

                watchEndedCleanly = true;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                // The server ends the stream and closes the connection; when the client writes to the closed
                // socket before it has read the buffered end of the stream, SocketsHttpHandler aborts the stream.
            }
        });
        Task events = Task.Run(async () =>
        {
            try
            {
                await foreach (Event _ in channel.ServerStreamingAsync("/aifactory.agent.v1.Events/WatchEvents", new WatchEventsRequest(), Event.Parser))
                {
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                // As above: the connection closed under the client's reader.
            }
        });
        var seenInventory = new TaskCompletionSource();
        Task inventory = Task.Run(async () =>
        {
            try
            {
                await foreach (InventoryChange _ in channel.ServerStreamingAsync("/aifactory.agent.v1.Inventory/WatchInventory", new WatchInventoryRequest { SendCurrent = true }, InventoryChange.Parser))
                {
                    seenInventory.TrySetResult();
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
            {
                // As above: the connection closed under the client's reader.
            }
        });
        await seenFirst.Task.WaitAsync(AgentUnderTest.Patience);
        await seenInventory.Task.WaitAsync(AgentUnderTest.Patience);

        long started = Environment.TickCount64;
        agent.Process.Terminate();

        Assert.True(await agent.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)), "agent held by open streams: " + agent.Process.Describe());
        Assert.True(Environment.TickCount64 - started < 20_000);
        Assert.Equal(0, agent.Process.ExitCode);
        await watch.WaitAsync(AgentUnderTest.Patience);
        await events.WaitAsync(AgentUnderTest.Patience);
        await inventory.WaitAsync(AgentUnderTest.Patience);
        // The subject here is the time to exit; NOT_SERVING before the end is shown in process by
        // HealthServiceTests.Shutdown_tells_watchers_not_serving_and_ends_their_streams, and here whenever the client
        // read the end of the stream before the connection closed.
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, statuses[0]);
        if (watchEndedCleanly)
        {
            Assert.Equal([HealthCheckResponse.Types.ServingStatus.Serving, HealthCheckResponse.Types.ServingStatus.NotServing], statuses);
        }
    }

    [Fact]
    public async Task A_second_agent_on_the_same_socket_refuses_and_leaves_the_first_serving()
    {
        using AgentUnderTest first = AgentUnderTest.StartReady(out _);

        using RunningProcess second = RunningProcess.Start(Binaries.Agent, [.. AgentUnderTest.Arguments(first.Dir)]);

        Assert.True(await second.WaitForExitAsync(AgentUnderTest.Patience), second.Describe());
        Assert.Equal(69, second.ExitCode);
        Assert.Contains("another process accepts on", Assert.Single(second.Stderr), StringComparison.Ordinal);
        using GrpcChannel channel = first.Channel();
        await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
    }
}
