using AiFactory.Grpc.Server;
using AiFactory.Grpc.Tests.Interop;
using AiFactory.Grpc.Tests.Support;

namespace AiFactory.Grpc.Tests.Hostile;

/// <summary>
/// A call that stalls (a request that never ends, a response nobody reads) ends by itself, and only that call: the
/// other calls multiplexed on the same HTTP/2 connection carry on.
/// </summary>
public sealed class StalledStreamTests : IAsyncLifetime
{
    private const string Echo = "/aifactory.test.v1.TestService/Echo";
    private const string Count = "/aifactory.test.v1.TestService/Count";
    private TestServer _server = null!;
    private RawGrpcClient _connection = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(o =>
        {
            o.RequestMessageTimeout = TimeSpan.FromSeconds(2);
            o.ResponseWriteTimeout = TimeSpan.FromSeconds(2);
        });

        // One SocketsHttpHandler: every call below shares its one HTTP/2 connection.
        _connection = new RawGrpcClient(_server.SocketPath);
    }

    public async Task DisposeAsync()
    {
        _connection.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_request_that_never_ends_gets_its_error_while_a_stream_on_the_same_connection_keeps_going()
    {
        // 40 messages 250 ms apart: the stream outlives the stalled call's timeout and Kestrel's 5 s data-rate grace.
        using HttpResponseMessage stream = await _connection.StartAsync(Count, RawGrpcClient.Bytes(RawGrpcClient.Frame(new CountRequest { Count = 40, IntervalMs = 250 })));
        using Stream body = await stream.Content.ReadAsStreamAsync();
        byte[] first = new byte[7]; // a 5-byte frame header and CountResponse { n: 1 }
        await body.ReadExactlyAsync(first);

        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        RawGrpcClient.Answer stalled = await _connection.SendAsync(Echo, RawGrpcClient.BytesThenHang(RawGrpcClient.Frame(new EchoRequest { Message = "and then nothing" })), cancellationToken: limit.Token);

        Assert.Equal((int)StatusCode.DeadlineExceeded, stalled.GrpcStatus);
        Assert.Contains("did not arrive whole", stalled.GrpcMessage, StringComparison.Ordinal);
        var rest = new MemoryStream();
        await body.CopyToAsync(rest).WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(39 * 7, rest.Length);
        Assert.Equal("0", stream.TrailingHeaders.GetValues("grpc-status").Single());
    }

    [Fact]
    public async Task A_response_nobody_reads_is_reset_alone_after_the_write_timeout()
    {
        using HttpResponseMessage unread = await _connection.StartAsync(Count, RawGrpcClient.Bytes(RawGrpcClient.Frame(new CountRequest())));

        // The server writes until flow control stops it, then gives up on that stream after ResponseWriteTimeout.
        await _server.Service.CountCancelled.Task.WaitAsync(TimeSpan.FromMinutes(1));

        RawGrpcClient.Answer echo = await _connection.SendAsync(Echo, RawGrpcClient.Bytes(RawGrpcClient.Frame(new EchoRequest { Message = "still here" })));
        Assert.Equal((int)StatusCode.OK, echo.GrpcStatus);
        var calls = await _server.WaitForCallsAsync(2);
        Assert.Contains(calls, c => c.Method == Count && c.Code == StatusCode.Cancelled);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using Stream body = await unread.Content.ReadAsStreamAsync();
            byte[] buffer = new byte[64 * 1024];
            while (await body.ReadAsync(buffer) > 0)
            {
            }
        });
    }
}
