using System.Net;
using AiFactory.Grpc.Client;
using AiFactory.Grpc.Tests.Interop;
using AiFactory.Grpc.Tests.Support;

namespace AiFactory.Grpc.Tests.Hostile;

/// <summary>
/// Requests no well-behaved client sends. Each must end in a gRPC error or an HTTP/2 reset, and the server must
/// keep answering everyone else.
/// </summary>
public sealed class HostileInputTests : IAsyncLifetime
{
    private const string Echo = "/aifactory.test.v1.TestService/Echo";
    private TestServer _server = null!;
    private RawGrpcClient _raw = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _raw = new RawGrpcClient(_server.SocketPath);
    }

    public async Task DisposeAsync()
    {
        // Whatever the test sent, the server still serves a normal call afterwards.
        using (GrpcChannel channel = GrpcChannel.ForUnixSocket(_server.SocketPath))
        {
            EchoResponse response = await channel.UnaryAsync(Echo, new EchoRequest { Message = "still serving" }, EchoResponse.Parser);
            Assert.Equal("still serving", response.Message);
        }

        _raw.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_frame_cut_short_by_the_end_of_the_stream_is_INTERNAL()
    {
        // The header announces 10 bytes; 3 come, then END_STREAM.
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(0, 0, 0, 0, 10, 0x0A, 0x01, 0x41));

        Assert.Equal(HttpStatusCode.OK, answer.HttpStatus);
        Assert.Equal((int)StatusCode.Internal, answer.GrpcStatus);
        Assert.Contains("Incomplete message", answer.GrpcMessage);
    }

    [Fact]
    public async Task A_body_shorter_than_a_frame_header_is_INTERNAL()
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(0, 0, 0));
        Assert.Equal((int)StatusCode.Internal, answer.GrpcStatus);
    }

    [Fact]
    public async Task An_empty_body_is_INTERNAL_for_a_unary_method()
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes());
        Assert.Equal((int)StatusCode.Internal, answer.GrpcStatus);
    }

    [Fact]
    public async Task A_length_prefix_of_0xFFFFFFFF_is_RESOURCE_EXHAUSTED_at_once_without_waiting_for_the_body()
    {
        // The body stays open: the answer must come from the 5 header bytes alone.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.BytesThenHang(0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3), cancellationToken: cts.Token);

        Assert.Equal((int)StatusCode.ResourceExhausted, answer.GrpcStatus);
        Assert.Contains("4294967295", answer.GrpcMessage);
    }

    [Fact]
    public async Task Garbage_protobuf_is_INTERNAL()
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(0, 0, 0, 0, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF));

        Assert.Equal((int)StatusCode.Internal, answer.GrpcStatus);
        Assert.Contains("deserialize", answer.GrpcMessage);
    }

    [Fact]
    public async Task Two_messages_for_a_unary_method_are_INTERNAL()
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        Assert.Equal((int)StatusCode.Internal, answer.GrpcStatus);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/json")]
    [InlineData("application/grpcx")]
    public async Task A_content_type_that_is_not_gRPC_is_HTTP_415(string contentType)
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(0, 0, 0, 0, 0), contentType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, answer.HttpStatus);
        Assert.Null(answer.GrpcStatus);
    }

    [Theory]
    [InlineData("application/grpc+proto")]
    [InlineData("application/grpc; charset=utf-8")]
    public async Task gRPC_content_type_variants_are_served(string contentType)
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(0, 0, 0, 0, 0), contentType);

        Assert.Equal((int)StatusCode.OK, answer.GrpcStatus);
        Assert.Equal(5, answer.BodyBytes);
    }

    [Fact]
    public async Task A_compressed_frame_is_UNIMPLEMENTED()
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(1, 0, 0, 0, 1, 0));
        Assert.Equal((int)StatusCode.Unimplemented, answer.GrpcStatus);
    }

    [Fact]
    public async Task An_unsupported_grpc_encoding_is_UNIMPLEMENTED_and_names_what_is_accepted()
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(1, 0, 0, 0, 1, 0), headers: new Dictionary<string, string> { ["grpc-encoding"] = "gzip" });

        Assert.Equal((int)StatusCode.Unimplemented, answer.GrpcStatus);
        Assert.Equal("identity", answer.Headers.GetValues("grpc-accept-encoding").Single());
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("123456789S")]
    [InlineData("-1S")]
    public async Task A_malformed_grpc_timeout_is_refused(string value)
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(0, 0, 0, 0, 0), headers: new Dictionary<string, string> { ["grpc-timeout"] = value });
        Assert.Equal((int)StatusCode.Internal, answer.GrpcStatus);
    }

    [Fact]
    public async Task The_longest_grpc_timeout_is_served_as_no_deadline()
    {
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.Bytes(0, 0, 0, 0, 0), headers: new Dictionary<string, string> { ["grpc-timeout"] = "99999999H" });
        Assert.Equal((int)StatusCode.OK, answer.GrpcStatus);
    }

    [Fact]
    public async Task A_request_stream_that_never_ends_is_bounded_by_its_deadline()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.BytesThenHang(0, 0, 0, 0, 0),
            headers: new Dictionary<string, string> { ["grpc-timeout"] = "500m" }, cancellationToken: cts.Token);

        Assert.Equal((int)StatusCode.DeadlineExceeded, answer.GrpcStatus);
    }

    [Fact]
    public async Task A_request_stream_that_never_ends_without_a_deadline_is_cut_off_by_the_request_message_timeout()
    {
        // GrpcServerOptions.RequestMessageTimeout (10 s) ends the call; the connection stays.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var answer = await _raw.SendAsync(Echo, RawGrpcClient.BytesThenHang(0, 0, 0, 0, 0), cancellationToken: cts.Token);

        Assert.Equal((int)StatusCode.DeadlineExceeded, answer.GrpcStatus);
        Assert.Equal("The request did not arrive whole (one message and the end of the stream) within 10 s.", answer.GrpcMessage);
        var calls = await _server.WaitForCallsAsync(1);
        Assert.Equal(StatusCode.DeadlineExceeded, calls.Single().Code);
    }

    [Fact]
    public async Task A_GET_is_not_served_as_a_call()
    {
        using var client = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(_server.SocketPath), ct);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            },
        })
        { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using HttpResponseMessage response = await client.GetAsync(new Uri("http://localhost" + Echo));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }
}
