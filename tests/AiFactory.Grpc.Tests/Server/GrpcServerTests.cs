using AiFactory.Grpc.Client;
using AiFactory.Grpc.Protocol;
using AiFactory.Grpc.Server;
using AiFactory.Grpc.Tests.Interop;
using AiFactory.Grpc.Tests.Support;
using Google.Protobuf;
using Grpc.Health.V1;
using Microsoft.Extensions.Logging;

namespace AiFactory.Grpc.Tests.Server;

/// <summary>GrpcServer in a real Kestrel, driven by our own client over the Unix socket and TCP h2c.</summary>
public sealed class GrpcServerTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(o => o.MaxReceiveMessageSize = o.MaxSendMessageSize = 64 * 1024);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private GrpcChannel Unix() => GrpcChannel.ForUnixSocket(_server.SocketPath);

    /// <summary>Makes one call first, so that a later deadline does not include connecting on a loaded machine.</summary>
    private static async Task<GrpcChannel> ConnectedAsync(GrpcChannel channel)
    {
        await channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest(), EchoResponse.Parser);
        return channel;
    }

    private GrpcChannel Tcp() => GrpcChannel.ForAddress(new Uri($"http://127.0.0.1:{_server.TcpPort}"));

    [Fact]
    public async Task A_unary_call_over_the_unix_socket_answers_and_reports_OK()
    {
        using GrpcChannel channel = Unix();
        EchoResponse response = await channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { Message = "hi" }, EchoResponse.Parser);

        Assert.Equal("hi", response.Message);
        var calls = await _server.WaitForCallsAsync(1);
        Assert.Equal(("/aifactory.test.v1.TestService/Echo", StatusCode.OK), (calls[0].Method, calls[0].Code));
        Assert.True(calls[0].Duration > TimeSpan.Zero);
    }

    [Fact]
    public async Task A_unary_call_over_tcp_h2c_answers()
    {
        using GrpcChannel channel = Tcp();
        HealthCheckResponse response = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    [Fact]
    public async Task A_server_stream_delivers_every_message_in_order()
    {
        using GrpcChannel channel = Unix();
        var seen = new List<int>();
        await foreach (CountResponse r in channel.ServerStreamingAsync("/aifactory.test.v1.TestService/Count", new CountRequest { Count = 50 }, CountResponse.Parser))
        {
            seen.Add(r.N);
        }

        Assert.Equal(Enumerable.Range(1, 50), seen);
    }

    [Fact]
    public async Task An_error_after_messages_travels_in_the_trailers()
    {
        using GrpcChannel channel = Unix();
        var seen = new List<int>();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (CountResponse r in channel.ServerStreamingAsync("/aifactory.test.v1.TestService/Count", new CountRequest { Count = 3, FailCode = (int)StatusCode.Aborted, FailMessage = "stopped: 50% done" }, CountResponse.Parser))
            {
                seen.Add(r.N);
            }
        });

        Assert.Equal([1, 2, 3], seen);
        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
        Assert.Equal("stopped: 50% done", ex.Detail);
    }

    [Fact]
    public async Task A_non_ascii_error_message_arrives_exactly()
    {
        const string message = "GPU 0000:41:00.0 — température trop élevée: 95 °C (100%) 🔥";
        using GrpcChannel channel = Tcp();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Fail", new FailRequest { Code = (int)StatusCode.FailedPrecondition, Message = message }, EchoResponse.Parser));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal(message, ex.Detail);
    }

    [Fact]
    public async Task A_status_message_of_60_kB_arrives_cut_to_a_kibibyte_at_a_character_boundary()
    {
        string message = string.Concat(Enumerable.Repeat("é🔥", 10_000));
        using GrpcChannel channel = Unix();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Fail", new FailRequest { Code = (int)StatusCode.FailedPrecondition, Message = message }, EchoResponse.Parser));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(ex.Detail), 1000, GrpcMessageEncoding.MaxMessageBytes);
        Assert.EndsWith("…", ex.Detail, StringComparison.Ordinal);
        Assert.StartsWith(ex.Detail[..^1], message, StringComparison.Ordinal);
        Assert.DoesNotContain('\uFFFD', ex.Detail);
    }

    [Fact]
    public async Task A_long_status_message_in_the_trailers_is_cut_too()
    {
        using GrpcChannel channel = Unix();
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (CountResponse r in channel.ServerStreamingAsync("/aifactory.test.v1.TestService/Count", new CountRequest { Count = 1, FailCode = (int)StatusCode.Aborted, FailMessage = new string('x', 50_000) }, CountResponse.Parser))
            {
            }
        });

        Assert.Equal(StatusCode.Aborted, ex.StatusCode);
        Assert.Equal(new string('x', GrpcMessageEncoding.MaxMessageBytes - 3) + "…", ex.Detail);
    }

    [Fact]
    public async Task An_unknown_method_with_a_long_path_is_unimplemented_with_a_short_message()
    {
        using GrpcChannel channel = Unix();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/no.Such/" + new string('m', 6_000), new EchoRequest(), EchoResponse.Parser));

        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.True(ex.Detail.Length <= GrpcMessageEncoding.MaxMessageBytes, $"{ex.Detail.Length} characters");
    }

    [Fact]
    public async Task An_unknown_method_is_unimplemented_and_reported_as_unknown_not_by_its_path()
    {
        using GrpcChannel channel = Unix();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Nope", new EchoRequest(), EchoResponse.Parser));
        var ex2 = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/no.Such/Service", new EchoRequest(), EchoResponse.Parser));

        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, ex2.StatusCode);
        var calls = await _server.WaitForCallsAsync(2);
        Assert.Equal(2, calls.Count(c => c.Method == GrpcServer.UnknownMethod && c.Code == StatusCode.Unimplemented));
        Assert.DoesNotContain(calls, c => c.Method is "/no.Such/Service" or "/aifactory.test.v1.TestService/Nope");
    }

    [Fact]
    public async Task A_handler_that_honours_its_token_ends_with_deadline_exceeded()
    {
        using GrpcChannel channel = await ConnectedAsync(Unix());
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Sleep", new SleepRequest { Milliseconds = 30_000 }, EchoResponse.Parser,
                new CallOptions(Deadline: DateTime.UtcNow.AddMilliseconds(300))));

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        var calls = await _server.WaitForCallsAsync(2);
        Assert.Contains(calls[1].Code, new[] { StatusCode.DeadlineExceeded, StatusCode.Cancelled });
    }

    [Fact]
    public async Task A_handler_that_ignores_its_token_still_ends_with_deadline_exceeded_from_the_server()
    {
        // The client sends grpc-timeout but never cancels: the DEADLINE_EXCEEDED status must come from the server.
        using var raw = new RawGrpcClient(_server.SocketPath);
        byte[] request = new SleepRequest { Milliseconds = 6_000, IgnoreCancellation = true }.ToByteArray();
        byte[] frame = [0, 0, 0, 0, (byte)request.Length, .. request];
        var answer = await raw.SendAsync("/aifactory.test.v1.TestService/Sleep", RawGrpcClient.Bytes(frame),
            headers: new Dictionary<string, string> { ["grpc-timeout"] = "300m" });

        Assert.Equal((int)StatusCode.DeadlineExceeded, answer.GrpcStatus);
        var calls = await _server.WaitForCallsAsync(1);
        Assert.Equal(StatusCode.DeadlineExceeded, calls[0].Code);
        // Well before the handler's 6 s, with room for a loaded CI machine.
        Assert.True(calls[0].Duration < TimeSpan.FromSeconds(4), $"the call ended after {calls[0].Duration}, not at its deadline");

        // The handler's late answer (after 6 s) is refused without harm: the server still serves.
        await Task.Delay(6_200);
        using GrpcChannel channel = Unix();
        EchoResponse after = await channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { Message = "still here" }, EchoResponse.Parser);
        Assert.Equal("still here", after.Message);
        // A handler that outlives its deadline is a bug in the handler: the operator is told.
        Assert.Contains(_server.Log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("TestService/Sleep ignored the end of its call", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_cancelling_a_call_is_no_warning_even_while_the_handler_still_runs()
    {
        using GrpcChannel channel = await ConnectedAsync(Unix());
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<Exception>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Sleep", new SleepRequest { Milliseconds = 6_000, IgnoreCancellation = true }, EchoResponse.Parser,
                new CallOptions(CancellationToken: cts.Token)));

        var calls = await _server.WaitForCallsAsync(2);
        Assert.Contains(calls, c => c.Method == "/aifactory.test.v1.TestService/Sleep" && c.Code == StatusCode.Cancelled);
        Assert.DoesNotContain(_server.Log.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Contains(_server.Log.Entries, e => e.Level == LogLevel.Debug && e.Message.Contains("after the client cancelled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Cancelling_mid_stream_cancels_the_server_handler()
    {
        using GrpcChannel channel = Unix();
        using var cts = new CancellationTokenSource();
        int received = 0;
        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (CountResponse _ in channel.ServerStreamingAsync("/aifactory.test.v1.TestService/Count", new CountRequest { Count = 0, IntervalMs = 10 }, CountResponse.Parser, new CallOptions(CancellationToken: cts.Token)))
            {
                if (++received == 5)
                {
                    cts.Cancel();
                }
            }
        });

        Assert.Equal(StatusCode.Cancelled, ex.StatusCode);
        await _server.Service.CountCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var calls = await _server.WaitForCallsAsync(1);
        Assert.Equal(StatusCode.Cancelled, calls[0].Code);
    }

    [Fact]
    public async Task Breaking_out_of_an_endless_stream_cancels_the_server_handler()
    {
        using GrpcChannel channel = Tcp();
        await foreach (CountResponse r in channel.ServerStreamingAsync("/aifactory.test.v1.TestService/Count", new CountRequest { Count = 0 }, CountResponse.Parser))
        {
            if (r.N == 1000)
            {
                break;
            }
        }

        await _server.Service.CountCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_request_over_the_server_limit_is_resource_exhausted()
    {
        using GrpcChannel channel = Unix();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { Payload = Google.Protobuf.ByteString.CopyFrom(new byte[100_000]) }, EchoResponse.Parser));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task A_response_over_the_server_limit_is_resource_exhausted()
    {
        using GrpcChannel channel = Unix();
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { ResponseSize = 100_000 }, EchoResponse.Parser));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("Sending message larger than max", ex.Detail);
    }

    [Fact]
    public async Task A_response_over_the_client_limit_is_resource_exhausted_at_the_client()
    {
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(_server.SocketPath, new GrpcChannelOptions { MaxReceiveMessageSize = 1000 });
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { ResponseSize = 2000 }, EchoResponse.Parser));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }

    [Fact]
    public async Task A_request_over_the_client_limit_is_refused_before_sending()
    {
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(_server.SocketPath, new GrpcChannelOptions { MaxSendMessageSize = 1000 });
        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { Payload = Google.Protobuf.ByteString.CopyFrom(new byte[2000]) }, EchoResponse.Parser));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Empty(await _server.WaitForCallsAsync(0));
    }

    [Fact]
    public async Task Many_concurrent_calls_on_one_channel_all_complete()
    {
        using GrpcChannel channel = Unix();
        var calls = Enumerable.Range(0, 300).Select(i =>
            channel.UnaryAsync("/aifactory.test.v1.TestService/Echo", new EchoRequest { Message = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }, EchoResponse.Parser));
        EchoResponse[] responses = await Task.WhenAll(calls);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), responses.Select(r => r.Message));
    }
}
