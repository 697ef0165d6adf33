using System.Net;
using System.Net.Sockets;
using AiFactory.Agent.Configuration;

namespace AiFactory.Agent.Hosting;

/// <summary>
/// Names the listener that could not bind. Kestrel's SocketException says only what went wrong ("Cannot assign requested
/// address"), not for which address; after a failed start Kestrel has closed the listeners it did open, so binding each
/// configured TCP address again, in the order Kestrel opens them, finds the one that fails.
/// </summary>
internal static class ListenerProblem
{
    /// <summary>"&lt;key&gt; &lt;address&gt;: &lt;reason&gt;" for the first TCP listener that cannot bind, else the exception's message.</summary>
    public static string Describe(AgentOptions options, Exception failure)
    {
        foreach ((string key, string? address) in (ReadOnlySpan<(string, string?)>)[("listen", options.Listen), ("metrics-listen", options.MetricsListen)])
        {
            if (address is not null && AgentOptionsLoader.TryParseEndpoint(address, out IPEndPoint endpoint) && BindError(endpoint) is { } reason)
            {
                return $"{key} {address}: {reason}";
            }
        }

        return failure.Message;
    }

    /// <summary>Why <paramref name="endpoint"/> cannot be bound now, or null when it can (the socket is closed again at once).</summary>
    internal static string? BindError(IPEndPoint endpoint)
    {
        try
        {
            using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            // As Kestrel binds on Linux, so that a port with connections in TIME_WAIT is not reported as taken.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endpoint);
            return null;
        }
        catch (SocketException ex)
        {
            return ex.Message;
        }
    }
}
