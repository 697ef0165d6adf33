using System.Text.Json.Nodes;
using AiFactory.Grpc.Server;
using AiFactory.Grpc.Tests.Support;

namespace AiFactory.Grpc.Tests.Interop;

/// <summary>The reference client (@grpc/grpc-js) calls our server, over the Unix socket and over TCP h2c.</summary>
public sealed class GrpcJsClientAgainstOurServerTests : IAsyncLifetime
{
    private const int Limit = 64 * 1024;
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(o => o.MaxReceiveMessageSize = o.MaxSendMessageSize = Limit);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string Target(string transport) => transport == "unix" ? "unix://" + _server.SocketPath : $"127.0.0.1:{_server.TcpPort}";

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task Health_Check_answers_SERVING(string transport)
    {
        NodeCallResult result = await NodePeer.CallAsync(JsonSpec.Of(Target(transport), "Check"));

        Assert.Equal(StatusCode.OK, result.Code);
        Assert.Equal("SERVING", result.Responses.Single()!["status"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task A_unary_echo_round_trips_text_and_bytes(string transport)
    {
        NodeCallResult result = await NodePeer.CallAsync(JsonSpec.Of(Target(transport), "Echo", new JsonObject { ["message"] = "héllo ✓", ["responseSize"] = 1000 }));

        Assert.Equal(StatusCode.OK, result.Code);
        Assert.Equal("héllo ✓", result.Responses.Single()!["message"]!.GetValue<string>());
        Assert.Equal(1000, result.Responses.Single()!["payload"]!["data"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task A_server_stream_arrives_whole_and_in_order(string transport)
    {
        NodeCallResult result = await NodePeer.CallAsync(JsonSpec.Of(Target(transport), "Count", new JsonObject { ["count"] = 200 }));

        Assert.Equal(StatusCode.OK, result.Code);
        Assert.Equal(Enumerable.Range(1, 200), result.Responses.Select(r => r!["n"]!.GetValue<int>()));
    }

    [Fact]
    public async Task A_status_after_messages_arrives_in_trailers()
    {
        NodeCallResult result = await NodePeer.CallAsync(JsonSpec.Of(Target("unix"), "Count",
            new JsonObject { ["count"] = 3, ["failCode"] = (int)StatusCode.Aborted, ["failMessage"] = "drained: 3/3" }));

        Assert.Equal(3, result.Responses.Count);
        Assert.Equal(StatusCode.Aborted, result.Code);
        Assert.Equal("drained: 3/3", result.Details);
    }

    [Theory]
    [InlineData("unix", false)]
    [InlineData("tcp", false)]
    [InlineData("unix", true)]
    public async Task A_call_past_its_deadline_is_DEADLINE_EXCEEDED(string transport, bool handlerIgnoresCancellation)
    {
        var spec = JsonSpec.Of(Target(transport), "Sleep", new JsonObject { ["milliseconds"] = 10_000, ["ignoreCancellation"] = handlerIgnoresCancellation });
        spec["deadlineMs"] = 500;
        NodeCallResult result = await NodePeer.CallAsync(spec);

        Assert.Equal(StatusCode.DeadlineExceeded, result.Code);

        // grpc-js resets the stream at its own deadline, the same instant as the server's timer: the server sees
        // whichever comes first, and either way the call must end there, not when the handler returns.
        var calls = await _server.WaitForCallsAsync(1);
        Assert.Contains(calls.Single().Code, new[] { StatusCode.DeadlineExceeded, StatusCode.Cancelled });
        Assert.True(calls.Single().Duration < TimeSpan.FromSeconds(6), $"the server ended the call after {calls.Single().Duration}");
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task Cancelling_mid_stream_cancels_the_handler(string transport)
    {
        var spec = JsonSpec.Of(Target(transport), "Count", new JsonObject { ["count"] = 0, ["intervalMs"] = 5 });
        spec["cancelAfter"] = 5;
        NodeCallResult result = await NodePeer.CallAsync(spec);

        Assert.Equal(StatusCode.Cancelled, result.Code);
        Assert.True(result.Responses.Count >= 5);
        await _server.Service.CountCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(StatusCode.Cancelled, (await _server.WaitForCallsAsync(1)).Single().Code);
    }

    [Theory]
    [InlineData("unix", "GPU 0000:41:00.0 — température trop élevée (95 °C, 100%) 🔥")]
    [InlineData("tcp", "déjà vu: a/b?c=%41 :: 日本語")]
    public async Task A_non_ascii_error_message_arrives_exactly(string transport, string message)
    {
        NodeCallResult result = await NodePeer.CallAsync(JsonSpec.Of(Target(transport), "Fail",
            new JsonObject { ["code"] = (int)StatusCode.FailedPrecondition, ["message"] = message }));

        Assert.Equal(StatusCode.FailedPrecondition, result.Code);
        Assert.Equal(message, result.Details);
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task A_request_over_the_server_limit_is_RESOURCE_EXHAUSTED(string transport)
    {
        NodeCallResult result = await NodePeer.CallAsync(JsonSpec.Of(Target(transport), "Echo", new JsonObject { ["payload"] = Convert.ToBase64String(new byte[Limit + 1]) }));

        Assert.Equal(StatusCode.ResourceExhausted, result.Code);
        Assert.Equal(StatusCode.ResourceExhausted, (await _server.WaitForCallsAsync(1)).Single().Code);
    }

    [Fact]
    public async Task A_response_over_the_server_limit_is_RESOURCE_EXHAUSTED()
    {
        NodeCallResult result = await NodePeer.CallAsync(JsonSpec.Of(Target("unix"), "Echo", new JsonObject { ["responseSize"] = Limit + 1 }));

        Assert.Equal(StatusCode.ResourceExhausted, result.Code);
        Assert.Contains("larger than max", result.Details);
    }

    [Fact]
    public async Task A_response_over_the_grpc_js_limit_is_RESOURCE_EXHAUSTED_there()
    {
        var spec = JsonSpec.Of(Target("tcp"), "Echo", new JsonObject { ["responseSize"] = 5000 });
        spec["maxReceive"] = 4096;
        NodeCallResult result = await NodePeer.CallAsync(spec);

        Assert.Equal(StatusCode.ResourceExhausted, result.Code);
    }

    [Theory]
    [InlineData("unix", "/aifactory.test.v1.TestService/NoSuchMethod")]
    [InlineData("tcp", "/no.such.Service/Echo")]
    public async Task An_unknown_method_is_UNIMPLEMENTED(string transport, string path)
    {
        NodeCallResult result = await NodePeer.CallAsync(JsonSpec.Of(Target(transport), path));

        Assert.Equal(StatusCode.Unimplemented, result.Code);
        // Reported under one fixed name, not the client's path: the RPC metric's method label stays bounded.
        (string Method, StatusCode Code, TimeSpan _) call = (await _server.WaitForCallsAsync(1)).Single();
        Assert.Equal((GrpcServer.UnknownMethod, StatusCode.Unimplemented), (call.Method, call.Code));
    }
}
