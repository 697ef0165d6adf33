using AiFactory.Host.Hardware.Uevents;

namespace AiFactory.Host.Hardware.Tests.Uevents;

/// <summary>
/// The real kernel socket, listen-only (it changes nothing on the host). Receiving a uevent cannot be provoked
/// safely from a test, so only opening, a bounded receive and closing are checked.
/// </summary>
public class NetlinkUeventSocketTests
{
    [Fact]
    public void The_kernel_uevent_socket_opens_and_closes_on_this_machine()
    {
        using NetlinkUeventSocket? socket = NetlinkUeventSocket.TryOpen(out string? error);

        Assert.True(socket is not null, error);
        Assert.Null(error);
    }

    [Fact]
    public void A_receive_on_the_open_socket_returns_within_its_timeout_without_error()
    {
        using NetlinkUeventSocket socket = NetlinkUeventSocket.TryOpen(out string? error) ?? throw new InvalidOperationException(error);

        UeventReceiveResult result = socket.Receive(timeoutMilliseconds: 10, out Uevent? uevent);

        Assert.Equal(result == UeventReceiveResult.Received, uevent is not null);
    }

    [Fact]
    public void Receiving_after_dispose_throws_instead_of_reading_a_closed_fd()
    {
        NetlinkUeventSocket socket = NetlinkUeventSocket.TryOpen(out string? error) ?? throw new InvalidOperationException(error);
        socket.Dispose();

        Assert.Throws<ObjectDisposedException>(() => socket.Receive(10, out _));
    }
}
