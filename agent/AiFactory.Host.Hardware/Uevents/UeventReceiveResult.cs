namespace AiFactory.Host.Hardware.Uevents;

/// <summary>What one <see cref="NetlinkUeventSocket.Receive"/> call got.</summary>
public enum UeventReceiveResult
{
    /// <summary>A kernel uevent; it is in the out parameter.</summary>
    Received,

    /// <summary>Nothing arrived within the timeout.</summary>
    TimedOut,

    /// <summary>The receive queue overflowed (ENOBUFS): uevents were lost, a rescan is due.</summary>
    Lost,

    /// <summary>A datagram that is not a kernel uevent (not from port 0, or unparsable); dropped.</summary>
    Ignored,
}
