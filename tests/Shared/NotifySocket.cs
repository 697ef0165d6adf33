using System.Net.Sockets;
using System.Text;

namespace AiFactory.Tests.Shared;

/// <summary>A datagram socket standing in for systemd's notify socket: a path, or an abstract name ('@...').</summary>
internal sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly string? _path;

    private NotifySocket(string address, string? path)
    {
        Address = address;
        _path = path;
        _socket.Bind(new UnixDomainSocketEndPoint(address[0] == '@' ? "\0" + address[1..] : address));
    }

    /// <summary>The value for $NOTIFY_SOCKET.</summary>
    public string Address { get; }

    public static NotifySocket AtPath(string directory) => new(Path.Combine(directory, "notify.sock"), Path.Combine(directory, "notify.sock"));

    public static NotifySocket Abstract() => new("@aifactory-test-" + Guid.NewGuid().ToString("N"), null);

    /// <summary>The next datagram, or null when none comes within <paramref name="wait"/> (a safety limit, not a timing assertion).</summary>
    public string? Receive(TimeSpan wait)
    {
        var buffer = new byte[4096];
        _socket.ReceiveTimeout = (int)wait.TotalMilliseconds;
        try
        {
            int n = _socket.Receive(buffer);
            return Encoding.UTF8.GetString(buffer, 0, n);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
        {
            return null;
        }
    }

    /// <summary>Sends datagrams nobody reads until the queue holds no more: a service manager that has stopped reading.</summary>
    public void FillQueue()
    {
        using var sender = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { Blocking = false };
        sender.Connect(new UnixDomainSocketEndPoint(Address[0] == '@' ? "\0" + Address[1..] : Address));
        byte[] filler = Encoding.UTF8.GetBytes("STATUS=filler");
        try
        {
            while (true)
            {
                sender.Send(filler);
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.WouldBlock)
        {
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        if (_path is not null)
        {
            File.Delete(_path);
        }
    }
}
