using System.Net.Sockets;
using System.Text;

namespace AiFactory.Agent.Hosting.Systemd;

/// <summary>
/// sd_notify over the datagram socket named by <c>$NOTIFY_SOCKET</c>: a path, or an abstract socket when it starts
/// with '@' (the '@' becomes a leading NUL). Failures are swallowed: a lost notification must not stop the daemon.
/// </summary>
internal sealed class SystemdNotifier : ISystemdNotifier
{
    private readonly UnixDomainSocketEndPoint? _endpoint;

    public SystemdNotifier(string? notifySocket)
    {
        if (string.IsNullOrEmpty(notifySocket))
        {
            return;
        }

        IsEnabled = true;
        string path = notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket;
        try
        {
            _endpoint = new UnixDomainSocketEndPoint(path);
        }
        catch (ArgumentException)
        {
            // sockaddr_un holds 108 bytes: systemd never sets a longer one, a hand-made environment might.
            Problem = $"NOTIFY_SOCKET \"{notifySocket}\" is longer than a Unix socket address holds (107 bytes): no READY=1, no watchdog pings";
        }
    }

    /// <summary>A notifier for this process's environment.</summary>
    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));

    public bool IsEnabled { get; }

    public string? Problem { get; }

    public void Notify(ServiceState state)
    {
        if (_endpoint is null)
        {
            return;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.Connect(_endpoint);
            socket.Send(Encoding.UTF8.GetBytes(state.Text));
        }
        catch (SocketException)
        {
            // systemd went away or the socket is wrong: nothing useful to do; the unit's timeouts report it.
        }
    }
}
