using System.Net.Sockets;
using System.Text;

namespace AiFactory.Agent.Hosting.Systemd;

/// <summary>
/// sd_notify over the datagram socket named by <c>$NOTIFY_SOCKET</c>: a path, or an abstract socket when it starts
/// with '@' (the '@' becomes a leading NUL). Failures are swallowed: a lost notification must not stop the daemon.
/// </summary>
internal sealed class SystemdNotifier : ISystemdNotifier
{
    private readonly string? _socketPath;

    public SystemdNotifier(string? notifySocket)
    {
        _socketPath = string.IsNullOrEmpty(notifySocket) ? null : notifySocket;
    }

    /// <summary>A notifier for this process's environment.</summary>
    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));

    public bool IsEnabled => _socketPath is not null;

    public void Notify(ServiceState state)
    {
        if (_socketPath is null)
        {
            return;
        }

        string path = _socketPath[0] == '@' ? "\0" + _socketPath[1..] : _socketPath;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Send(Encoding.UTF8.GetBytes(state.Text));
        }
        catch (SocketException)
        {
            // systemd went away or the socket is wrong: nothing useful to do; the unit's timeouts report it.
        }
    }
}
