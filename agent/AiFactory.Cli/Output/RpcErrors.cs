using System.Net.Sockets;
using AiFactory.Cli.Input;
using AiFactory.Grpc;
using AiFactory.Grpc.Client;

namespace AiFactory.Cli.Output;

/// <summary>Turns a failed call into one line on stderr and an exit status.</summary>
internal static class RpcErrors
{
    public static int Report(RpcException ex) => Report(ex, Console.Error);

    /// <summary>
    /// Writes the error's one line to <paramref name="error"/>: the status and <see cref="Describe"/>, with control
    /// characters as \xNN (the agent's detail may echo what was asked, an ESC or a newline included); returns the exit status.
    /// </summary>
    internal static int Report(RpcException ex, TextWriter error)
    {
        error.WriteLine($"aifactoryctl: {ex.StatusCode}: {GlobalOptions.Quote(Describe(ex), int.MaxValue)}");
        return ExitCode(ex);
    }

    /// <summary>The exit status for a failed call: <see cref="ExitCodes.Unavailable"/> when the agent did not answer, else <see cref="ExitCodes.NotOk"/>.</summary>
    public static int ExitCode(RpcException ex) => NoAnswer(ex) ? ExitCodes.Unavailable : ExitCodes.NotOk;

    /// <summary>True when the agent could not be reached or did not answer in time: another call now would fare no better.</summary>
    public static bool NoAnswer(RpcException ex) => ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded;

    /// <summary>
    /// The status's detail, and for an agent that cannot be reached the innermost cause as well: HttpClient's own
    /// messages ("The SSL connection could not be established, see inner exception.") leave out the reason.
    /// </summary>
    internal static string Describe(RpcException ex)
    {
        if (ex.StatusCode != StatusCode.Unavailable || ex.InnerException is null)
        {
            return ex.Detail;
        }

        Exception innermost = ex.InnerException;
        bool tlsRefused = IsTlsRefusal(innermost);
        string? notASocket = NotASocket(innermost);
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
            tlsRefused |= IsTlsRefusal(innermost);
            notASocket ??= NotASocket(innermost);
        }

        if (notASocket is not null)
        {
            return $"{ex.Detail} ({notASocket})";
        }

        // A peer that accepts and closes at once (not a gRPC server, or one that dropped us) surfaces as a write to a
        // disposed NetworkStream; its text names a .NET type and not what happened.
        string cause = innermost is ObjectDisposedException { ObjectName: "System.Net.Sockets.NetworkStream" }
            ? "the other end closed the connection without answering: is it the agent's gRPC endpoint?"
            : innermost.Message.ReplaceLineEndings(" ");
        string described = ex.Detail.Contains(cause, StringComparison.Ordinal) ? ex.Detail : $"{ex.Detail} ({cause})";
        return tlsRefused ? described + TlsHint : described;
    }

    /// <summary>
    /// An agent with <c>tls.client-ca</c> refuses a foreign certificate in the handshake (under TLS 1.3 the client
    /// has finished its side by then, so it only sees the connection end before the server's HTTP/2 settings) and
    /// closes a connection that sent none right after it. HttpClient reports these as an AuthenticationException, a
    /// disposed SslStream or a response that ended before the HTTP/2 handshake, none of which says what to do.
    /// </summary>
    private const string TlsHint = "; the agent closed the connection before answering: over TLS, check --ca, and if the agent requires client certificates (tls.client-ca), give --cert and --key (a certificate its CAs signed)";

    /// <summary>
    /// For a Unix socket connect refused because the path is no socket at all (connect(2) says ECONNREFUSED for a
    /// regular file or a directory too), what the path is instead; else null.
    /// </summary>
    private static string? NotASocket(Exception e) =>
        e is UnixSocketConnectException { SocketError: SocketError.ConnectionRefused } refused && FileType.Of(refused.SocketPath) is { } type and not "a socket"
            ? $"{refused.SocketPath} is {type}, not a socket: is --socket right?"
            : null;

    private static bool IsTlsRefusal(Exception e) =>
        e is System.Security.Authentication.AuthenticationException
        || (e is ObjectDisposedException disposed && disposed.ObjectName.EndsWith(".SslStream", StringComparison.Ordinal))
        // By its message, not its HttpRequestError: which error code a connection closed during the handshake gets
        // depends on where SocketsHttpHandler was when the close came (InvalidResponse, ResponseEnded, Unknown).
        || (e is HttpRequestException && e.Message.Contains("HTTP/2 handshake", StringComparison.Ordinal));
}
