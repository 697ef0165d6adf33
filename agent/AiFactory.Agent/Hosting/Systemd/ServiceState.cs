namespace AiFactory.Agent.Hosting.Systemd;

/// <summary>One sd_notify message: newline-separated <c>KEY=VALUE</c> lines.</summary>
internal readonly record struct ServiceState(string Text)
{
    /// <summary>The service finished starting: listeners accept.</summary>
    public static readonly ServiceState Ready = new("READY=1");

    /// <summary>The service is shutting down.</summary>
    public static readonly ServiceState Stopping = new("STOPPING=1");

    /// <summary>A keep-alive for WatchdogSec=.</summary>
    public static readonly ServiceState Watchdog = new("WATCHDOG=1");

    /// <summary>A free-form status line shown by <c>systemctl status</c>. Newlines are replaced so the line cannot inject keys.</summary>
    public static ServiceState Status(string text) => new("STATUS=" + text.Replace('\n', ' ').Replace('\r', ' '));

    /// <summary>Two states in one datagram.</summary>
    public ServiceState And(ServiceState other) => new(Text + "\n" + other.Text);

    /// <inheritdoc />
    public override string ToString() => Text;
}
