using System.Runtime.InteropServices;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Uevents;

/// <summary>
/// A listen-only <c>AF_NETLINK</c>/<c>NETLINK_KOBJECT_UEVENT</c> socket bound to the kernel's multicast group 1:
/// the kernel's own uevents (udev re-broadcasts on group 2, which this does not join). .NET's
/// <see cref="System.Net.Sockets.Socket"/> refuses <c>AF_NETLINK</c>, hence raw libc calls.
/// Receive from one thread; <see cref="Dispose"/> from any (the fd closes once a running receive returns).
/// </summary>
public sealed class NetlinkUeventSocket : IDisposable
{
    /// <summary>The kernel builds a uevent in a 2 KiB environment buffer plus the header; 16 KiB leaves room.</summary>
    private const int BufferSize = 16 * 1024;

    private readonly NetlinkSocketSafeHandle _handle;
    private readonly byte[] _buffer = new byte[BufferSize];

    private NetlinkUeventSocket(NetlinkSocketSafeHandle handle) => _handle = handle;

    /// <summary>
    /// Opens and binds the socket; null with <paramref name="error"/> (e.g. <c>socket: Address family not supported by protocol</c>)
    /// where netlink is unavailable (some containers, seccomp). Only listens: changes nothing on the host.
    /// </summary>
    public static unsafe NetlinkUeventSocket? TryOpen(out string? error)
    {
        int fd = Libc.Socket(Libc.AF_NETLINK, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, Libc.NETLINK_KOBJECT_UEVENT);
        if (fd < 0)
        {
            error = "socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT): " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            return null;
        }

        var handle = new NetlinkSocketSafeHandle(fd);
        var address = new Libc.SockaddrNl { Family = Libc.AF_NETLINK, Pid = 0, Groups = 1 };
        if (Libc.Bind(fd, &address, (uint)sizeof(Libc.SockaddrNl)) != 0)
        {
            error = "bind(sockaddr_nl groups=1): " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
            handle.Dispose();
            return null;
        }

        error = null;
        return new NetlinkUeventSocket(handle);
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> for one datagram and parses it.
    /// Throws <see cref="IOException"/> on a socket error other than EINTR/EAGAIN/ENOBUFS,
    /// <see cref="ObjectDisposedException"/> once disposed.
    /// </summary>
    public unsafe UeventReceiveResult Receive(int timeoutMilliseconds, out Uevent? uevent)
    {
        uevent = null;
        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            int fd = (int)_handle.DangerousGetHandle();
            var pollFd = new Libc.PollFd { Fd = fd, Events = Libc.POLLIN };
            int ready = Libc.Poll(&pollFd, 1, timeoutMilliseconds);
            if (ready < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno == Libc.EINTR ? UeventReceiveResult.TimedOut : throw Error("poll", errno);
            }

            if (ready == 0)
            {
                return UeventReceiveResult.TimedOut;
            }

            Libc.SockaddrNl from = default;
            uint fromLength = (uint)sizeof(Libc.SockaddrNl);
            nint n;
            fixed (byte* buffer = _buffer)
            {
                n = Libc.RecvFrom(fd, buffer, (nuint)_buffer.Length, Libc.MSG_DONTWAIT, &from, &fromLength);
            }

            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno switch
                {
                    Libc.ENOBUFS => UeventReceiveResult.Lost,
                    Libc.EINTR or Libc.EAGAIN => UeventReceiveResult.TimedOut,
                    _ => throw Error("recvfrom", errno),
                };
            }

            // Only the kernel (port id 0) sends kernel uevents; anything else on the group is not trusted.
            if (from.Pid != 0)
            {
                return UeventReceiveResult.Ignored;
            }

            uevent = UeventParser.Parse(_buffer.AsSpan(0, (int)n));
            return uevent is null ? UeventReceiveResult.Ignored : UeventReceiveResult.Received;
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>Closes the socket (deferred until a receive in progress returns).</summary>
    public void Dispose() => _handle.Dispose();

    private static IOException Error(string call, int errno) =>
        new($"{call} on the uevent netlink socket: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
}
