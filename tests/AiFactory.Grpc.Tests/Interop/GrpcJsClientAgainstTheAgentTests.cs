using System.Text.Json.Nodes;
using AiFactory.Grpc.Tests.Support;

namespace AiFactory.Grpc.Tests.Interop;

/// <summary>The reference client (@grpc/grpc-js) calls the agent daemon itself over its Unix socket.</summary>
public sealed class GrpcJsClientAgainstTheAgentTests : IAsyncLifetime
{
    private AgentProcess _agent = null!;

    public async Task InitializeAsync() => _agent = await AgentProcess.StartAsync();

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    private string Target => "unix://" + _agent.SocketPath;

    [Fact]
    public async Task The_agent_answers_Health_Check_for_itself_and_its_services()
    {
        NodeCallResult whole = await NodePeer.CallAsync(JsonSpec.Of(Target, "Check"));
        NodeCallResult agent = await NodePeer.CallAsync(JsonSpec.Of(Target, "Check", new JsonObject { ["service"] = "aifactory.agent.v1.Agent" }));
        NodeCallResult unknown = await NodePeer.CallAsync(JsonSpec.Of(Target, "Check", new JsonObject { ["service"] = "no.such.Service" }));

        Assert.Equal((StatusCode.OK, "SERVING"), (whole.Code, whole.Responses.Single()!["status"]!.GetValue<string>()));
        Assert.Equal((StatusCode.OK, "SERVING"), (agent.Code, agent.Responses.Single()!["status"]!.GetValue<string>()));
        Assert.Equal(StatusCode.NotFound, unknown.Code);
    }

    [Fact]
    public async Task An_unknown_service_name_of_100_kB_is_NOT_FOUND_for_grpc_js_with_a_short_message()
    {
        // grpc-js drops a call whose grpc-message passes about 64 KiB: the name must not come back whole.
        string name = new('s', 100_000);

        NodeCallResult unknown = await NodePeer.CallAsync(JsonSpec.Of(Target, "Check", new JsonObject { ["service"] = name }));

        Assert.Equal(StatusCode.NotFound, unknown.Code);
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(unknown.Details), 1, 1024);
        Assert.StartsWith("unknown service \"sss", unknown.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_Watch_streams_the_current_status_until_the_deadline()
    {
        var spec = JsonSpec.Of(Target, "Watch");
        spec["deadlineMs"] = 1500;
        NodeCallResult result = await NodePeer.CallAsync(spec);

        Assert.Equal(StatusCode.DeadlineExceeded, result.Code);
        Assert.Equal("SERVING", result.Responses.First()!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_unknown_method_on_the_agent_is_UNIMPLEMENTED()
    {
        NodeCallResult result = await NodePeer.CallAsync(JsonSpec.Of(Target, "/aifactory.agent.v1.Agent/NoSuchMethod"));
        Assert.Equal(StatusCode.Unimplemented, result.Code);
    }
}
