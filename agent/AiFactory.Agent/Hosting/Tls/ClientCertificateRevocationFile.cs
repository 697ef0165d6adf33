using System.Security.Cryptography.X509Certificates;
using AiFactory.Agent.Configuration;
using AiFactory.Host.Hardware.Files;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Hosting.Tls;

/// <summary>
/// <c>tls.client-crl</c> as the TCP listener uses it: the last good reading (<see cref="Current"/>), replaced when the
/// file changes. Every <see cref="CheckInterval"/> a timer compares the file's <see cref="FileVersion"/> (one statx:
/// identity, size, mtime, ctime; a file renamed over it, as <c>mv new.pem clients.crl</c> does, is a change) with the
/// one last looked at, and only on a change reads it again (bounded, as at start) and verifies it as at start, and
/// in addition refuses a list already past its nextUpdate. A good reading replaces the old one at once for every
/// later handshake; a bad one (unreadable, not a CRL, not signed by its CA, a CA in <c>tls.client-ca</c> left
/// without a list, out of date) keeps the old one, is logged once as an error naming the file and why, and stays
/// in <see cref="ReloadProblem"/> until the file changes again. The handshake path reads one field and never waits
/// for the file (a CRL of 4 MiB takes a while to verify). When the reading in use passes its nextUpdate, handshakes
/// through that CA are refused (<see cref="ClientCertificateRevocation.Problem"/>) and that is logged once too.
/// </summary>
internal sealed partial class ClientCertificateRevocationFile : IDisposable
{
    /// <summary>How often the file is looked at: a rotated CRL is in use within this long.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(5);

    private readonly X509Certificate2Collection _authorities;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ITimer? _timer;
    private ClientCertificateRevocation _current;
    private long _loadedAtTicks;
    private (FileVersion? Version, string? Error) _seen;
    private string? _problem;
    private ClientCertificateRevocation? _reportedOutOfDate;
    private int _checking;

    /// <param name="initial">The reading made at start.</param>
    /// <param name="authorities">The <c>tls.client-ca</c> certificates a new reading is verified against.</param>
    /// <param name="logger">Where reloads, refused readings and lists out of date are logged.</param>
    /// <param name="time">The clock and the timer; the system's when null.</param>
    /// <param name="interval">How often to look (<see cref="CheckInterval"/> when null); <see cref="Timeout.InfiniteTimeSpan"/> for never (tests call <see cref="Check"/>).</param>
    public ClientCertificateRevocationFile(ClientCertificateRevocation initial, X509Certificate2Collection authorities, ILogger logger, TimeProvider? time = null, TimeSpan? interval = null)
    {
        _current = initial;
        _authorities = authorities;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _loadedAtTicks = _time.GetUtcNow().UtcTicks;
        _seen = (initial.Version, null);
        TimeSpan every = interval ?? CheckInterval;
        if (every != Timeout.InfiniteTimeSpan)
        {
            _timer = _time.CreateTimer(static state => ((ClientCertificateRevocationFile)state!).Check(), this, every, every);
        }
    }

    /// <summary>The file.</summary>
    public string Path => _current.Path;

    /// <summary>The reading in use: the last one that was good.</summary>
    public ClientCertificateRevocation Current => Volatile.Read(ref _current);

    /// <summary>When the reading in use was taken (at start, or by the last reload that succeeded).</summary>
    public DateTimeOffset LoadedAt => new(Volatile.Read(ref _loadedAtTicks), TimeSpan.Zero);

    /// <summary>Why the file as it is now is not in use (the file changed and its new content was refused); null when it is.</summary>
    public string? ReloadProblem => Volatile.Read(ref _problem);

    /// <summary>
    /// Looks at the file once and, when it changed since the last look, reads it; true when a new reading was taken.
    /// A call while another runs returns false at once.
    /// </summary>
    public bool Check()
    {
        if (Interlocked.Exchange(ref _checking, 1) == 1)
        {
            return false;
        }

        try
        {
            DateTimeOffset now = _time.GetUtcNow();
            bool reloaded = Look(now);
            ReportOutOfDate(now);
            return reloaded;
        }
        finally
        {
            Volatile.Write(ref _checking, 0);
        }
    }

    public void Dispose() => _timer?.Dispose();

    private bool Look(DateTimeOffset now)
    {
        string path = Path;
        (FileVersion? Version, string? Error) seen;
        try
        {
            seen = (FileVersion.OfPath(path), null);
        }
        catch (IOException ex)
        {
            seen = (null, ex.Message);
        }

        if (seen == _seen)
        {
            return false;
        }

        ClientCertificateRevocation? reading = ClientCertificateRevocationLists.Read(path, _authorities, outOfDateAt: now, out string? problem);
        if (reading is null)
        {
            _seen = seen;
            Volatile.Write(ref _problem, problem);
            LogReloadRefused(_logger, path, problem!, ClientCertificateRevocationLists.Time(LoadedAt));
            return false;
        }

        // The version read before the content: if the file changed again in between, the next look reads it again.
        _seen = (reading.Version, null);
        Volatile.Write(ref _loadedAtTicks, now.UtcTicks);
        Volatile.Write(ref _current, reading);
        Volatile.Write(ref _problem, null);
        DateTimeOffset? next = reading.NextUpdate;
        LogReloaded(_logger, path, reading.Lists.Count, reading.Lists.Sum(l => l.Count), next is { } n ? ClientCertificateRevocationLists.Time(n) : "never");
        return true;
    }

    /// <summary>Logs once per reading when the one in use has gone out of date, as refused handshakes then say.</summary>
    private void ReportOutOfDate(DateTimeOffset now)
    {
        ClientCertificateRevocation current = Current;
        if (ReferenceEquals(current, _reportedOutOfDate))
        {
            return;
        }

        if (current.Lists.FirstOrDefault(l => l.NextUpdate is { } next && next < now) is { } stale)
        {
            _reportedOutOfDate = current;
            LogOutOfDate(_logger, current.Path, stale.Issuer.Name, ClientCertificateRevocationLists.Time(stale.NextUpdate!.Value));
        }
    }
}
