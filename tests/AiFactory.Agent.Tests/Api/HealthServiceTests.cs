using AiFactory.Agent.Api;
using AiFactory.Grpc;
using AiFactory.Grpc.Services;
using Grpc.Health.V1;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace AiFactory.Agent.Tests.Api;

public sealed class HealthServiceTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_whole_agent_and_each_added_service_are_serving()
    {
        var health = new HealthService();
        health.AddServices(["aifactory.agent.v1.Agent"]);

        Assert.Equal(ServingStatus.Serving, await CheckAsync(health, string.Empty));
        Assert.Equal(ServingStatus.Serving, await CheckAsync(health, "aifactory.agent.v1.Agent"));
    }

    [Fact]
    public async Task A_service_whose_probe_says_not_serving_answers_not_serving_while_it_does()
    {
        var health = new HealthService();
        health.AddServices(["aifactory.agent.v1.Leases"]);
        bool degraded = true;
        health.SetProbe("aifactory.agent.v1.Leases", () => !degraded);

        Assert.Equal(ServingStatus.NotServing, await CheckAsync(health, "aifactory.agent.v1.Leases"));
        Assert.Equal(ServingStatus.Serving, await CheckAsync(health, string.Empty));
        degraded = false;
        Assert.Equal(ServingStatus.Serving, await CheckAsync(health, "aifactory.agent.v1.Leases"));
    }

    [Fact]
    public async Task Checking_an_unknown_service_is_not_found()
    {
        var health = new HealthService();

        var ex = await Assert.ThrowsAsync<RpcException>(() => CheckAsync(health, "no.such.Service"));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Contains("no.such.Service", ex.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checking_an_unknown_service_of_4_MiB_repeats_only_the_start_of_its_name()
    {
        var health = new HealthService();

        var ex = await Assert.ThrowsAsync<RpcException>(() => CheckAsync(health, new string('s', 4 * 1024 * 1024)));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.StartsWith("unknown service \"sss", ex.Detail, StringComparison.Ordinal);
        Assert.EndsWith("…\"", ex.Detail, StringComparison.Ordinal);
        Assert.True(ex.Detail.Length < 300, $"{ex.Detail.Length} characters");
    }

    [Fact]
    public async Task Watch_sends_the_current_status_then_every_change()
    {
        var health = new HealthService();
        using var cts = new CancellationTokenSource();
        var stream = new InMemoryCallStream<HealthCheckResponse>(new HealthCheckRequest { Service = "svc" }, HealthCheckResponse.Parser);
        Task call = Method(health, "Watch").InvokeAsync(stream, InMemoryCallStream<HealthCheckResponse>.Context("/grpc.health.v1.Health/Watch", cts.Token));

        Assert.Equal(ServingStatus.ServiceUnknown, (await NextAsync(stream)).Status);
        health.SetStatus("svc", ServingStatus.Serving);
        Assert.Equal(ServingStatus.Serving, (await NextAsync(stream)).Status);
        health.SetStatus("other", ServingStatus.NotServing);
        health.SetStatus("svc", ServingStatus.NotServing);
        Assert.Equal(ServingStatus.NotServing, (await NextAsync(stream)).Status);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(Wait));
    }

    [Fact]
    public async Task Shutdown_tells_watchers_not_serving_and_ends_their_streams()
    {
        var health = new HealthService();
        var stream = new InMemoryCallStream<HealthCheckResponse>(new HealthCheckRequest(), HealthCheckResponse.Parser);
        Task call = Method(health, "Watch").InvokeAsync(stream, InMemoryCallStream<HealthCheckResponse>.Context("/grpc.health.v1.Health/Watch", CancellationToken.None));
        Assert.Equal(ServingStatus.Serving, (await NextAsync(stream)).Status);

        health.Shutdown();

        await call.WaitAsync(Wait);
        Assert.Equal(ServingStatus.NotServing, (await NextAsync(stream)).Status);
        Assert.Equal(ServingStatus.NotServing, await CheckAsync(health, string.Empty));
    }

    private static MethodHandler Method(HealthService health, string name) => health.Definition().Methods[name];

    private static async Task<ServingStatus> CheckAsync(HealthService health, string service)
    {
        var stream = new InMemoryCallStream<HealthCheckResponse>(new HealthCheckRequest { Service = service }, HealthCheckResponse.Parser);
        await Method(health, "Check").InvokeAsync(stream, InMemoryCallStream<HealthCheckResponse>.Context("/grpc.health.v1.Health/Check", CancellationToken.None));
        return (await NextAsync(stream)).Status;
    }

    private static async Task<HealthCheckResponse> NextAsync(InMemoryCallStream<HealthCheckResponse> stream) =>
        await stream.Responses.Reader.ReadAsync().AsTask().WaitAsync(Wait);
}
