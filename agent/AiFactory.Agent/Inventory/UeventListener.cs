using System.Net;
using System.Net.Sockets;

namespace AiFactory.Agent.Inventory;

/// <summary>
/// Kernel uevents (device add/remove/bind/unbind/change) from an <c>AF_NETLINK</c>/<c>NETLINK_KOBJECT_UEVENT</c> socket
/// bound to the kernel's multicast group 1. Only tells that something happened; the rescan finds out what.
/// </summary>
internal sealed class UeventListener : IDisposable
{
    private const AddressFamily Netlink = (AddressFamily)16;
    private const ProtocolType KobjectUevent = (ProtocolType)15;
    private readonly Socket _socket;

    private UeventListener(Socket socket) => _socket = socket;

    /// <summary>Opens the socket; null with <paramref name="error"/> where netlink is not available (containers, non-Linux).</summary>
    public static UeventListener? TryOpen(out string? error)
    {
        error = null;
        Socket? socket = null;
        try
        {
            socket = new Socket(Netlink, SocketType.Raw, KobjectUevent);
            socket.Bind(new NetlinkEndPoint(groups: 1));
            return new UeventListener(socket);
        }
        catch (Exception ex) when (ex is SocketException or NotSupportedException or ArgumentException)
        {
            socket?.Dispose();
            error = ex.Message;
            return null;
        }
    }

    /// <summary>Waits for the next uevent; returns its first line (e.g. <c>add@/devices/pci0000:00/...</c>).</summary>
    public async Task<string> ReceiveAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[8192];
        int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        int end = Array.IndexOf(buffer, (byte)0, 0, n);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, end < 0 ? n : end);
    }

    public void Dispose() => _socket.Dispose();

    /// <summary><c>struct sockaddr_nl</c>: family, pad, port id (0: the kernel picks), multicast groups.</summary>
    private sealed class NetlinkEndPoint(uint groups) : EndPoint
    {
        public override AddressFamily AddressFamily => Netlink;

        public override SocketAddress Serialize()
        {
            var address = new SocketAddress(Netlink, 12);
            address[8] = (byte)groups;
            address[9] = (byte)(groups >> 8);
            address[10] = (byte)(groups >> 16);
            address[11] = (byte)(groups >> 24);
            return address;
        }

        public override EndPoint Create(SocketAddress socketAddress) => new NetlinkEndPoint(groups);
    }
}
