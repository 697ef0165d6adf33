namespace AiFactory.Agent.Hosting.Systemd;

/// <summary>Sends sd_notify(3) state lines to the service manager.</summary>
internal interface ISystemdNotifier
{
    /// <summary>True when <c>$NOTIFY_SOCKET</c> is set (the process runs under systemd with Type=notify).</summary>
    bool IsEnabled { get; }

    /// <summary>Why <c>$NOTIFY_SOCKET</c> is set but cannot be used (a path longer than sockaddr_un holds); null when it can.</summary>
    string? Problem { get; }

    /// <summary>
    /// Sends one datagram with the given state lines without ever waiting: null when it was sent (or there is no
    /// <c>$NOTIFY_SOCKET</c>), otherwise why it was lost (the receiver's queue is full, nobody listens).
    /// </summary>
    string? Notify(ServiceState state);
}
