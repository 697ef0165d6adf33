using AiFactory.Host.Hardware.Uevents;

namespace AiFactory.Agent.Inventory;

/// <summary>
/// Kernel uevents (device add/remove/bind/unbind/change) from a <see cref="NetlinkUeventSocket"/>, received on a
/// dedicated thread. Calls <c>onRelevant</c> for each uevent that can change the inventory (and when uevents were
/// lost); it only tells that something happened, the (debounced) rescan finds out what.
/// </summary>
internal sealed class UeventListener : IDisposable
{
    /// <summary>How long one receive blocks, i.e. how long <see cref="Dispose"/> may wait for the thread.</summary>
    private const int PollMilliseconds = 250;

    private readonly NetlinkUeventSocket _socket;
    private readonly Action _onRelevant;
    private readonly Action<string> _onFailed;
    private readonly Thread _thread;
    private volatile bool _stopping;

    private UeventListener(NetlinkUeventSocket socket, Action onRelevant, Action<string> onFailed)
    {
        _socket = socket;
        _onRelevant = onRelevant;
        _onFailed = onFailed;
        _thread = new Thread(Run) { IsBackground = true, Name = "uevent listener" };
    }

    /// <summary>
    /// Opens the socket and starts the thread; null with <paramref name="error"/> where netlink is not available.
    /// <paramref name="onFailed"/> is called (once, on the listener thread) if the socket fails later; the thread then ends.
    /// </summary>
    public static UeventListener? TryStart(Action onRelevant, Action<string> onFailed, out string? error)
    {
        if (NetlinkUeventSocket.TryOpen(out error) is not { } socket)
        {
            return null;
        }

        var listener = new UeventListener(socket, onRelevant, onFailed);
        listener._thread.Start();
        return listener;
    }

    private void Run()
    {
        while (!_stopping)
        {
            UeventReceiveResult result;
            Uevent? uevent;
            try
            {
                result = _socket.Receive(PollMilliseconds, out uevent);
            }
            catch (IOException ex)
            {
                _onFailed(ex.Message);
                return;
            }

            if (result == UeventReceiveResult.Lost ||
                (result == UeventReceiveResult.Received && uevent is not null && UeventFilter.AffectsInventory(uevent)))
            {
                _onRelevant();
            }
        }
    }

    /// <summary>Stops the thread (within one poll interval) and closes the socket.</summary>
    public void Dispose()
    {
        _stopping = true;
        if (Thread.CurrentThread != _thread && _thread.IsAlive)
        {
            _thread.Join();
        }

        _socket.Dispose();
    }
}
