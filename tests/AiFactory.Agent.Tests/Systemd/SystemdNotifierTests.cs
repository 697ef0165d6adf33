using AiFactory.Agent.Hosting.Systemd;
using AiFactory.Tests.Shared;

namespace AiFactory.Agent.Tests.Systemd;

public sealed class SystemdNotifierTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Ready_and_status_arrive_as_one_datagram_on_a_path_socket()
    {
        using var systemd = NotifySocket.AtPath(_dir.Path);
        var notifier = new SystemdNotifier(systemd.Address);

        notifier.Notify(ServiceState.Ready.And(ServiceState.Status("serving on /run/x.sock")));

        Assert.True(notifier.IsEnabled);
        Assert.Equal("READY=1\nSTATUS=serving on /run/x.sock", systemd.Receive(Wait));
    }

    [Fact]
    public void An_at_sign_names_an_abstract_socket()
    {
        using var systemd = NotifySocket.Abstract();
        var notifier = new SystemdNotifier(systemd.Address);

        notifier.Notify(ServiceState.Stopping);

        Assert.Equal("STOPPING=1", systemd.Receive(Wait));
    }

    [Fact]
    public void A_status_cannot_smuggle_in_another_key()
    {
        using var systemd = NotifySocket.AtPath(_dir.Path);

        new SystemdNotifier(systemd.Address).Notify(ServiceState.Status("ok\nREADY=1"));

        Assert.Equal("STATUS=ok READY=1", systemd.Receive(Wait));
    }

    [Fact]
    public void Without_notify_socket_nothing_is_sent_and_nothing_fails()
    {
        var notifier = new SystemdNotifier(null);

        notifier.Notify(ServiceState.Ready);

        Assert.False(notifier.IsEnabled);
    }

    [Fact]
    public void A_socket_nobody_listens_on_does_not_stop_the_daemon()
    {
        var notifier = new SystemdNotifier(Path.Combine(_dir.Path, "gone.sock"));

        notifier.Notify(ServiceState.Ready);

        Assert.True(notifier.IsEnabled);
    }

    [Fact]
    public void A_notify_socket_path_too_long_for_an_address_is_reported_once_and_notify_does_not_throw()
    {
        string tooLong = "/run/systemd/" + new string('n', 120);
        var notifier = new SystemdNotifier(tooLong);

        notifier.Notify(ServiceState.Ready);

        Assert.True(notifier.IsEnabled);
        Assert.Contains(tooLong, notifier.Problem, StringComparison.Ordinal);
        Assert.Contains("longer than a Unix socket address holds", notifier.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_usable_notify_socket_has_no_problem()
    {
        using var systemd = NotifySocket.AtPath(_dir.Path);

        Assert.Null(new SystemdNotifier(systemd.Address).Problem);
    }

    [Fact]
    public async Task A_full_notify_queue_loses_the_notification_instead_of_waiting()
    {
        using var systemd = NotifySocket.AtPath(_dir.Path);
        systemd.FillQueue();
        var notifier = new SystemdNotifier(systemd.Address);

        // A blocking send would wait here until the receiver reads, which it never does.
        string? lost = await Task.Run(() => notifier.Notify(ServiceState.Ready)).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal("the notify socket's queue is full (the service manager does not read it)", lost);
        Assert.Equal("STATUS=filler", systemd.Receive(Wait));
    }

    [Fact]
    public void A_delivered_notification_reports_no_loss()
    {
        using var systemd = NotifySocket.AtPath(_dir.Path);

        Assert.Null(new SystemdNotifier(systemd.Address).Notify(ServiceState.Ready));
    }
}
