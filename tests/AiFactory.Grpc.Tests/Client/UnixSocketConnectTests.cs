using System.Net.Sockets;
using AiFactory.Grpc.Client;
using Grpc.Health.V1;

namespace AiFactory.Grpc.Tests.Client;

/// <summary>A Unix socket channel that cannot connect says which socket and why, not HttpClient's placeholder host.</summary>
public sealed class UnixSocketConnectTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aifactory-grpc-unix-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_missing_socket_is_unavailable_naming_the_path_and_the_errno_text()
    {
        string path = Path.Combine(_dir, "absent.sock");

        RpcException ex = await CallAsync(path);

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal($"Error connecting or talking to the server: cannot connect to unix:{path}: No such file or directory", ex.Detail);
    }

    [Fact]
    public async Task A_socket_nobody_accepts_on_is_unavailable_with_connection_refused()
    {
        string path = Path.Combine(_dir, "stale.sock");
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // Bound under another name and renamed: a disposed Socket removes the file it bound.
            socket.Bind(new UnixDomainSocketEndPoint(path + ".bound"));
            File.Move(path + ".bound", path);
        }

        RpcException ex = await CallAsync(path);

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal($"Error connecting or talking to the server: cannot connect to unix:{path}: Connection refused", ex.Detail);
    }

    [Fact]
    public async Task A_socket_that_accepts_and_never_answers_ends_at_the_deadline_saying_how_long_was_waited()
    {
        string path = Path.Combine(_dir, "silent.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(path);

        RpcException ex = await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser, new CallOptions(DateTime.UtcNow.AddSeconds(0.5), CancellationToken.None)));

        Assert.Equal(StatusCode.DeadlineExceeded, ex.StatusCode);
        Assert.Equal("Deadline exceeded: no answer within 0.5 s.", ex.Detail);
    }

    [Fact]
    public async Task A_refused_connect_carries_the_path_and_the_socket_error()
    {
        string path = Path.Combine(_dir, "regular-file");
        await File.WriteAllTextAsync(path, string.Empty);

        RpcException ex = await CallAsync(path);

        var connect = Assert.IsType<UnixSocketConnectException>(ex.InnerException?.InnerException);
        Assert.Equal(path, connect.SocketPath);
        Assert.Equal(SocketError.ConnectionRefused, connect.SocketError);
    }

    private static async Task<RpcException> CallAsync(string socket)
    {
        using GrpcChannel channel = GrpcChannel.ForUnixSocket(socket);
        return await Assert.ThrowsAsync<RpcException>(() =>
            channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest(), HealthCheckResponse.Parser, new CallOptions(DateTime.UtcNow.AddSeconds(30), CancellationToken.None)));
    }
}
