using System.Net.Sockets;
using System.Text;

namespace AiFactory.Agent.Hosting.Systemd;

/// <summary>
/// sd_notify over the datagram socket named by <c>$NOTIFY_SOCKET</c>: a path, or an abstract socket when it starts
/// with '@' (the '@' becomes a leading NUL). A send never waits: a receiver that does not read fills its queue, and a
/// blocking send would then hold up start-up (READY=1 is sent from ApplicationStarted) and the watchdog timer, so a
/// full queue loses the notification instead. Failures are returned, never thrown: a lost notification must not stop the daemon.
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

    public string? Notify(ServiceState state)
    {
        if (_endpoint is null)
        {
            return Problem;
        }

        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { Blocking = false };
            socket.Connect(_endpoint);
            socket.Send(Encoding.UTF8.GetBytes(state.Text));
            return null;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
        {
            return "the notify socket's queue is full (the service manager does not read it)";
        }
        catch (SocketException ex)
        {
            // systemd went away or the socket is wrong: nothing more to do; the unit's timeouts report it.
            return ex.Message;
        }
    }
}
