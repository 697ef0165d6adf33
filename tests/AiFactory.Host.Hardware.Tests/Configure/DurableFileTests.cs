using AiFactory.Host.Hardware.Configure;

namespace AiFactory.Host.Hardware.Tests.Configure;

public sealed class DurableFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "aifactory-durable-" + Guid.NewGuid().ToString("N"));

    public DurableFileTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void An_atomic_write_replaces_the_file_and_leaves_no_temporary_behind()
    {
        string path = Path.Combine(_dir, "state");
        File.WriteAllText(path, "old");
        File.WriteAllText(path + ".tmp", "stale temp of a crashed write");

        DurableFile.WriteAtomically(path, "new"u8);

        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(["state"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void A_link_planted_at_the_temporary_is_removed_not_written_through()
    {
        string path = Path.Combine(_dir, "state");
        string victim = Path.Combine(_dir, "victim");
        File.WriteAllText(victim, "keep");
        File.CreateSymbolicLink(path + ".tmp", victim);

        DurableFile.WriteAtomically(path, "new"u8);

        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal("keep", File.ReadAllText(victim));
        Assert.Null(new FileInfo(path).LinkTarget);
        Assert.Equal(["state", "victim"], Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_directory_at_the_temporary_fails_the_write_naming_it_and_leaves_the_file()
    {
        string path = Path.Combine(_dir, "state");
        File.WriteAllText(path, "old");
        Directory.CreateDirectory(path + ".tmp");

        IOException ex = Assert.Throws<IOException>(() => DurableFile.WriteAtomically(path, "new"u8));

        Assert.Equal($"open of {path}.tmp failed: errno 17", ex.Message);
        Assert.Equal("old", File.ReadAllText(path));
    }

    [Fact]
    public void Syncing_a_directory_that_does_not_exist_names_it_and_the_errno()
    {
        string missing = Path.Combine(_dir, "missing");

        IOException ex = Assert.Throws<IOException>(() => DurableFile.SyncDirectory(missing));

        Assert.Equal($"open of {missing} failed: errno 2", ex.Message);
    }

    [Fact]
    public void Data_sync_reaches_fdatasync_for_an_open_file_and_refuses_a_closed_handle()
    {
        string path = Path.Combine(_dir, "journal");
        var stream = new FileStream(path, FileMode.Create, FileAccess.ReadWrite);
        stream.Write("record"u8);
        DurableFile.SyncData(stream.SafeFileHandle, path);
        stream.Dispose();

        Assert.Throws<ObjectDisposedException>(() => DurableFile.SyncData(stream.SafeFileHandle, path));
        Assert.Equal("record", File.ReadAllText(path));
    }
}
