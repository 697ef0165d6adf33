using System.Net.Sockets;

namespace AiFactory.Grpc.Client;

/// <summary>
/// A Unix socket channel's connect(2) failed: the path and the errno's text, without HttpClient's placeholder
/// address ("localhost:80"). The inner cause of the Unavailable <see cref="RpcException"/> such a call ends with.
/// </summary>
public sealed class UnixSocketConnectException : IOException
{
    /// <summary>Creates the exception for <paramref name="socketPath"/> failing with <paramref name="error"/>, described as <paramref name="reason"/>.</summary>
    public UnixSocketConnectException(string socketPath, SocketError error, string reason)
        : base($"cannot connect to unix:{socketPath}: {reason}")
    {
        SocketPath = socketPath;
        SocketError = error;
    }

    /// <summary>The socket path the channel connects to.</summary>
    public string SocketPath { get; }

    /// <summary>connect's error, as .NET maps it (ENOENT reads as AddressNotAvailable).</summary>
    public SocketError SocketError { get; }
}
