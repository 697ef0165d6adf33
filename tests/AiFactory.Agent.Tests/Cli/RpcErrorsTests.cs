using AiFactory.Cli.Output;
using AiFactory.Grpc;

namespace AiFactory.Agent.Tests.Cli;

public sealed class RpcErrorsTests
{
    private const string Hint = "give --cert and --key";

    [Theory]
    [InlineData(HttpRequestError.InvalidResponse)]
    [InlineData(HttpRequestError.ResponseEnded)]
    [InlineData(HttpRequestError.Unknown)]
    public void A_connection_closed_before_the_HTTP2_handshake_gets_the_TLS_hint_whatever_its_error_code(HttpRequestError code)
    {
        var cause = new HttpRequestException(code, "The server did not complete the HTTP/2 handshake.");
        var ex = new RpcException(StatusCode.Unavailable, "cannot reach the agent", new HttpRequestException("An error occurred while sending the request.", cause));

        string described = RpcErrors.Describe(ex);

        Assert.Contains("did not complete the HTTP/2 handshake", described, StringComparison.Ordinal);
        Assert.Contains(Hint, described, StringComparison.Ordinal);
    }

    [Fact]
    public void A_refused_connection_is_described_without_the_TLS_hint()
    {
        var cause = new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused);
        var ex = new RpcException(StatusCode.Unavailable, "cannot reach the agent", new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused", cause));

        string described = RpcErrors.Describe(ex);

        Assert.Contains("cannot reach the agent", described, StringComparison.Ordinal);
        Assert.DoesNotContain(Hint, described, StringComparison.Ordinal);
    }

    [Fact]
    public void A_socket_path_that_is_a_regular_file_is_named_as_one()
    {
        string file = Path.GetTempFileName();
        try
        {
            string described = RpcErrors.Describe(Refused(file));

            Assert.EndsWith($"({file} is a regular file, not a socket: is --socket right?)", described, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_socket_path_that_is_a_directory_is_named_as_one()
    {
        string dir = Directory.CreateTempSubdirectory("aifactory-rpcerrors-").FullName;
        try
        {
            string described = RpcErrors.Describe(Refused(dir));

            Assert.EndsWith($"({dir} is a directory, not a socket: is --socket right?)", described, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void A_peer_that_closes_at_once_is_described_without_the_name_of_a_dotnet_type()
    {
        var closed = new ObjectDisposedException("System.Net.Sockets.NetworkStream");
        var ex = new RpcException(StatusCode.Unavailable, "Error connecting or talking to the server: An error occurred while sending the request.", new HttpRequestException("An error occurred while sending the request.", closed));

        string described = RpcErrors.Describe(ex);

        Assert.DoesNotContain("NetworkStream", described, StringComparison.Ordinal);
        Assert.Contains("the other end closed the connection without answering", described, StringComparison.Ordinal);
    }

    [Fact]
    public void An_agent_detail_that_echoes_control_characters_is_one_line_with_them_escaped()
    {
        var ex = new RpcException(StatusCode.NotFound, "gpu: no GPU \u001b[31mred\nsecond\u009b2J");
        var error = new StringWriter();

        int exit = RpcErrors.Report(ex, error);

        Assert.Equal(1, exit);
        Assert.Equal("aifactoryctl: NotFound: gpu: no GPU \\x1b[31mred\\x0asecond\\x9b2J" + Environment.NewLine, error.ToString());
    }

    private static RpcException Refused(string path)
    {
        var connect = new AiFactory.Grpc.Client.UnixSocketConnectException(path, System.Net.Sockets.SocketError.ConnectionRefused, "Connection refused");
        return new RpcException(StatusCode.Unavailable, "Error connecting or talking to the server: " + connect.Message, new HttpRequestException("An error occurred while sending the request.", connect));
    }
}
