namespace AiFactory.EndToEnd.Tests;

/// <summary>
/// What systemd does for StandardOutput=journal, without systemd: <c>$JOURNAL_STREAM</c> set to the
/// <c>st_dev:st_ino</c> of the stream the process really writes to (here the test's pipe on that descriptor).
/// </summary>
internal static class JournalStream
{
    /// <summary>A wrapper for <see cref="RunningProcess.Start"/>: a shell that sets JOURNAL_STREAM to its descriptor <paramref name="fd"/> and execs the binary.</summary>
    public static string[] Wrapper(int fd) =>
        ["sh", "-c", $"JOURNAL_STREAM=$(stat -L -c %d:%i /proc/$$/fd/{fd}) || exit 99; export JOURNAL_STREAM; exec \"$@\"", "sh"];
}
