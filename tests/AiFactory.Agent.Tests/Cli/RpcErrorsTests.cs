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
}
