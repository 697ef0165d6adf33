using AiFactory.Grpc.Client;
using AiFactory.Grpc.Tests.Support;
using Google.Protobuf;
using Grpc.Health.V1;

namespace AiFactory.Grpc.Tests.Interop;

/// <summary>Our client (GrpcChannel) calls the reference server (@grpc/grpc-js), over the Unix socket and TCP h2c.</summary>
public sealed class OurClientAgainstGrpcJsServerTests : IAsyncLifetime
{
    private const int Limit = 64 * 1024;
    private readonly string _dir = Directory.CreateTempSubdirectory("aifactory-grpcjs-").FullName;
    private NodeServer _server = null!;

    private string SocketPath => Path.Combine(_dir, "grpcjs.sock");

    public async Task InitializeAsync() => _server = await NodePeer.StartServerAsync(SocketPath, Limit);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private GrpcChannel Channel(string transport, GrpcChannelOptions? options = null) => transport == "unix"
        ? GrpcChannel.ForUnixSocket(SocketPath, options)
        : GrpcChannel.ForAddress(new Uri($"http://127.0.0.1:{_server.TcpPort}"), options);

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task Health_Check_answers_SERVING(string transport)
    {
        using GrpcChannel channel = Channel(transport);
        HealthCheckResponse response = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task A_NOT_FOUND_from_grpc_js_arrives_as_a_trailers_only_status()
    {
        using GrpcChannel channel = Channel("unix");
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest { Service = "nope" }, HealthCheckResponse.Parser));
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal("unknown service \"nope\"", ex.Detail);
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task A_unary_echo_round_trips_text_and_bytes(string transport)
    {
        using GrpcChannel channel = Channel(transport);
        EchoResponse response = await channel.UnaryAsync("/aifactory.test.v1.TestService/Echo",
            new EchoRequest { Message = "héllo ✓", Payload = ByteString.CopyFrom(1, 2, 3) }, EchoResponse.Parser);
        Assert.Equal("héllo ✓", response.Message);
        Assert.Equal(new byte[] { 1, 2, 3 }, response.Payload.ToByteArray());
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task A_server_stream_arrives_whole_and_in_order(string transport)
    {
        using GrpcChannel channel = Channel(transport);
        var seen = new List<int>();
        await foreach (CountResponse r in channel.ServerStreamingAsync("/aifactory.test.v1.TestService/Count", new CountRequest { Count = 500 }, CountResponse.Parser))
        {
            seen.Add(r.N);
        }

        Assert.Equal(Enumerable.Range(1, 500), seen);
    }

    [Fact]
    public async Task A_status_after_messages_arrives_from_the_trailers()
    {
        using GrpcChannel channel = Channel("tcp");
        var seen = new List<int>();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (CountResponse r in channel.ServerStreamingAsync("/aifactory.test.v1.TestService/Count",
                new CountRequest { Count = 3, FailCode = (int)StatusCode.Aborted, FailMessage = "drained: 3/3" }, CountResponse.Parser))
            {
                seen.Add(r.N);
            }
        });
        Assert.Equal([1, 2, 3], seen);
        Assert.Equal((StatusCode.Aborted, "drained: 3/3"), (ex.StatusCode, ex.Detail));
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task A_call_past_its_deadline_is_DEADLINE_EXCEEDED_and_grpc_js_sees_it_end(string transport)
    {
        using GrpcChannel channel = Channel(transport);
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Sleep", new SleepRequest { Milliseconds = 10_000 }, EchoResponse.Parser,
                new CallOptions(Deadline: DateTime.UtcNow.AddMilliseconds(1000))));

        // grpc-js starts the handler (and so can report its cancellation) only once the request message is in:
        // the deadline leaves room for that on a loaded machine.
        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        var cancelled = await _server.Events.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("Sleep", cancelled["method"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task Cancelling_mid_stream_cancels_the_grpc_js_handler(string transport)
    {
        using GrpcChannel channel = Channel(transport);
        using var cts = new CancellationTokenSource();
        int received = 0;
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (CountResponse _ in channel.ServerStreamingAsync("/aifactory.test.v1.TestService/Count",
                new CountRequest { Count = 0, IntervalMs = 5 }, CountResponse.Parser, new CallOptions(CancellationToken: cts.Token)))
            {
                if (++received == 5)
                {
                    cts.Cancel();
                }
            }
        });

        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        var cancelled = await _server.Events.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("Count", cancelled["method"]!.GetValue<string>());
        Assert.True(cancelled["sent"]!.GetValue<int>() >= 5);
    }

    [Theory]
    [InlineData("unix", "GPU 0000:41:00.0 — température trop élevée (95 °C, 100%) 🔥")]
    [InlineData("tcp", "déjà vu: a/b?c=%41 :: 日本語\ttab")]
    public async Task A_non_ascii_error_message_from_grpc_js_arrives_exactly(string transport, string message)
    {
        using GrpcChannel channel = Channel(transport);
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Fail", new FailRequest { Code = (int)StatusCode.FailedPrecondition, Message = message }, EchoResponse.Parser));
        Assert.Equal((StatusCode.FailedPrecondition, message), (ex.StatusCode, ex.Detail));
    }

    [Theory]
    [InlineData("unix")]
    [InlineData("tcp")]
    public async Task A_request_over_the_grpc_js_limit_is_RESOURCE_EXHAUSTED(string transport)
    {
        using GrpcChannel channel = Channel(transport);
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { Payload = ByteString.CopyFrom(new byte[Limit + 1]) }, EchoResponse.Parser));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task A_response_over_our_limit_is_RESOURCE_EXHAUSTED()
    {
        using GrpcChannel channel = Channel("unix", new GrpcChannelOptions { MaxReceiveMessageSize = 4096 });
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { ResponseSize = 5000 }, EchoResponse.Parser));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Theory]
    [InlineData("unix", "/aifactory.test.v1.TestService/NoSuchMethod")]
    [InlineData("tcp", "/no.such.Service/Echo")]
    public async Task An_unknown_method_is_UNIMPLEMENTED(string transport, string path)
    {
        using GrpcChannel channel = Channel(transport);
        var ex = await Assert.ThrowsAsync<RpcException>(() => channel.UnaryAsync(path, new EchoRequest(), EchoResponse.Parser));
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
    }
}
