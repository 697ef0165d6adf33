using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Logging;

/// <summary>
/// Writes one line per log event to stdout. Under systemd (<c>$JOURNAL_STREAM</c> set) each line starts with the
/// syslog priority <c>&lt;N&gt;</c>, which journald turns into the entry's PRIORITY, and carries no timestamp
/// (journald adds its own). Otherwise a UTC timestamp and a level word lead the line.
/// </summary>
internal sealed class StdoutLoggerProvider : ILoggerProvider
{
    private readonly TextWriter _out;
    private readonly bool _journal;
    private readonly LogLevel _minimum;
    private readonly IReadOnlySet<int> _leftOut;
    private readonly Lock _gate = new();

    /// <param name="output">Where the lines go.</param>
    /// <param name="journal">True to lead each line with its syslog priority instead of a timestamp.</param>
    /// <param name="minimum">The least level written.</param>
    /// <param name="leftOut">
    /// Event ids (<see cref="EventIds"/>) not written: what a one-shot command reports itself (the offline profile
    /// command prints a refused profile's errors, so the log line saying the same is left out).
    /// </param>
    public StdoutLoggerProvider(TextWriter output, bool journal, LogLevel minimum, IReadOnlySet<int>? leftOut = null)
    {
        _out = output;
        _journal = journal;
        _minimum = minimum;
        _leftOut = leftOut ?? new HashSet<int>();
    }

    /// <summary>True when stdout is connected to the journal (systemd sets JOURNAL_STREAM for StandardOutput=journal).</summary>
    public static bool StdoutIsJournal() => IsJournal(1);

    /// <summary>
    /// True when descriptor <paramref name="fd"/> (1 stdout, 2 stderr) is the journal stream systemd named in
    /// <c>$JOURNAL_STREAM</c> (<c>st_dev:st_ino</c>, as sd-daemon compares): a child that inherited the variable but
    /// writes to a terminal or a pipe gets plain lines.
    /// </summary>
    public static bool IsJournal(int fd)
    {
        string? stream = Environment.GetEnvironmentVariable("JOURNAL_STREAM");
        return !string.IsNullOrEmpty(stream) && IsJournalStream(stream, Host.Hardware.Files.FileIdentity.OfDescriptor(fd));
    }

    /// <summary>True when <paramref name="journalStream"/> (<c>DEV:INO</c> in decimal) names the file <paramref name="file"/>.</summary>
    internal static bool IsJournalStream(string? journalStream, Host.Hardware.Files.FileIdentity? file)
    {
        if (journalStream is null || file is not { } f)
        {
            return false;
        }

        int colon = journalStream.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 &&
            ulong.TryParse(journalStream.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out ulong dev) &&
            ulong.TryParse(journalStream.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong ino) &&
            dev == f.Device && ino == f.Inode;
    }

    /// <summary>
    /// Writes a line that ends the process (an invalid configuration, a listener that cannot open) to stderr as
    /// <c>aifactory-agent: MESSAGE</c>, with the error priority <c>&lt;3&gt;</c> first when stderr is the journal, so
    /// that <c>journalctl -p err</c> shows why the agent did not start.
    /// </summary>
    public static void WriteFatal(string message) => WriteFatal(Console.Error, IsJournal(2), message);

    internal static void WriteFatal(TextWriter stderr, bool journal, string message) =>
        stderr.WriteLine((journal ? "<3>" : string.Empty) + "aifactory-agent: " + message.ReplaceLineEndings(" "));

    public ILogger CreateLogger(string categoryName) => new Logger(this, ShortCategory(categoryName));

    public void Dispose()
    {
    }

    /// <summary>The syslog priority for a level (sd-daemon.h: SD_ERR=3, SD_WARNING=4, SD_INFO=6, SD_DEBUG=7).</summary>
    internal static int Priority(LogLevel level) => level switch
    {
        LogLevel.Critical => 2,
        LogLevel.Error => 3,
        LogLevel.Warning => 4,
        LogLevel.Information => 6,
        _ => 7,
    };

    private static string ShortCategory(string category)
    {
        int dot = category.LastIndexOf('.');
        return dot < 0 ? category : category[(dot + 1)..];
    }

    private void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var sb = new StringBuilder(message.Length + 64);
        if (_journal)
        {
            sb.Append('<').Append(Priority(level).ToString(CultureInfo.InvariantCulture)).Append('>');
        }
        else
        {
            sb.Append(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)).Append(' ')
              .Append(level switch
              {
                  LogLevel.Critical => "crit ",
                  LogLevel.Error => "error",
                  LogLevel.Warning => "warn ",
                  LogLevel.Information => "info ",
                  LogLevel.Debug => "debug",
                  _ => "trace",
              }).Append(' ');
        }

        sb.Append(category).Append(": ").Append(message.ReplaceLineEndings(" "));
        if (exception is not null)
        {
            // One journal entry per event: the exception goes on the same line.
            sb.Append(" | ").Append(exception.GetType().Name).Append(": ").Append(exception.Message.ReplaceLineEndings(" "));
        }

        lock (_gate)
        {
            _out.WriteLine(sb.ToString());
            _out.Flush();
        }
    }

    private sealed class Logger(StdoutLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= provider._minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel) && !provider._leftOut.Contains(eventId.Id))
            {
                provider.Write(logLevel, category, formatter(state, exception), exception);
            }
        }
    }
}
