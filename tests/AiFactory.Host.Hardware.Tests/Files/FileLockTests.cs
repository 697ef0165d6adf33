using System.Diagnostics;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Host.Hardware.Tests.Files;

/// <summary>
/// <see cref="FileLock"/>: a flock(2) of its own, so two opens exclude each other in one process as in two (a shell's
/// <c>flock</c> sees it), closing lets go, and a FIFO or link in the lock file's place is refused at once, naming it.
/// </summary>
public sealed class FileLockTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("aifactory-filelock-").FullName;

    private string LockPath => Path.Combine(_dir, "leases.lock");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_shared_holder_keeps_out_an_exclusive_one_of_another_open_and_lets_in_another_shared_one()
    {
        using FileLock agent = FileLock.Open(LockPath, create: true)!;
        using FileLock offline = FileLock.Open(LockPath, create: false)!;
        using FileLock secondAgent = FileLock.Open(LockPath, create: false)!;

        Assert.True(agent.TryLock(exclusive: false));
        Assert.False(offline.TryLock(exclusive: true));
        Assert.True(secondAgent.TryLock(exclusive: false));
    }

    [Fact]
    public void An_exclusive_holder_keeps_out_every_other_open_until_it_is_closed()
    {
        FileLock apply = FileLock.Open(LockPath, create: true)!;
        using FileLock agent = FileLock.Open(LockPath, create: false)!;
        Assert.True(apply.TryLock(exclusive: true));

        bool whileHeld = agent.TryLock(exclusive: false);
        apply.Dispose();
        bool afterClose = agent.TryLock(exclusive: false);

        Assert.False(whileHeld);
        Assert.True(afterClose);
    }

    [Fact]
    public void The_lock_is_a_kernel_flock_another_process_sees()
    {
        using FileLock held = FileLock.Open(LockPath, create: true)!;
        Assert.True(held.TryLock(exclusive: false));

        Assert.Equal(1, Flock("-x", LockPath)); // util-linux flock -n: exit 1 when the lock is taken
        Assert.Equal(0, Flock("-s", LockPath));
        held.Dispose();
        Assert.Equal(0, Flock("-x", LockPath));
    }

    [Fact]
    public void A_missing_file_is_null_unless_it_is_to_be_created()
    {
        Assert.Null(FileLock.Open(LockPath, create: false));
        using FileLock made = FileLock.Open(LockPath, create: true)!;
        Assert.True(File.Exists(LockPath));
    }

    [Fact]
    public async Task A_fifo_in_place_of_the_file_is_refused_at_once_naming_it()
    {
        MakeFifo(LockPath);

        // On a thread of its own, so a regression (an open that waits for a writer) fails here instead of hanging the run.
        Exception? refused = await Task.Factory.StartNew(
            () => Record.Exception(() => FileLock.Open(LockPath, create: true)?.Dispose()),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).WaitAsync(Generous);

        var ex = Assert.IsType<IOException>(refused);
        Assert.Equal($"{LockPath}: is not a regular file (a FIFO, device or socket); not opened", ex.Message);
    }

    [Fact]
    public void A_symbolic_link_in_place_of_the_file_is_refused_naming_it()
    {
        string target = Path.Combine(_dir, "elsewhere");
        File.WriteAllText(target, string.Empty);
        File.CreateSymbolicLink(LockPath, target);

        var ex = Assert.Throws<IOException>(() => FileLock.Open(LockPath, create: true));

        Assert.Equal($"{LockPath}: is a symbolic link; not opened", ex.Message);
    }

    private static int Flock(string mode, string path)
    {
        using Process flock = Process.Start(new ProcessStartInfo("flock") { ArgumentList = { "-n", mode, path, "true" } })!;
        Assert.True(flock.WaitForExit(Generous));
        return flock.ExitCode;
    }

    internal static void MakeFifo(string path)
    {
        using Process mkfifo = Process.Start("mkfifo", [path]);
        Assert.True(mkfifo.WaitForExit(Generous));
        Assert.Equal(0, mkfifo.ExitCode);
    }
}
