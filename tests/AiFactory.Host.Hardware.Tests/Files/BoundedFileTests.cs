using AiFactory.Host.Hardware.Files;

namespace AiFactory.Host.Hardware.Tests.Files;

/// <summary>The one bounded read behind the config file, tls.client-ca/-crl, ConfinedFile and the lease ledger.</summary>
public sealed class BoundedFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aifactory-bounded-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_regular_file_is_read_whole_as_text()
    {
        string path = Write("agent.yaml", "log-level: info\n");

        Assert.Equal("log-level: info\n", BoundedFile.ReadText(path, 1024));
    }

    [Fact]
    public void A_file_of_exactly_the_limit_is_read()
    {
        string path = Write("full", new string('x', 1024));

        Assert.Equal(1024, BoundedFile.ReadText(path, 1024)!.Length);
    }

    [Fact]
    public void A_file_larger_than_the_buffer_start_of_an_unknown_length_is_read_whole()
    {
        // Files whose length says nothing (procfs reports 0) start with a small buffer that grows while reading.
        string text = string.Concat(Enumerable.Repeat("0123456789abcdef", 1000));
        string path = Write("long", text);

        Assert.Equal(text, BoundedFile.ReadText(path, 1024 * 1024));
    }

    [Fact]
    public void Bytes_are_returned_as_they_are()
    {
        string path = Path.Combine(_dir, "crl.der");
        File.WriteAllBytes(path, [0x30, 0x82, 0xFF, 0x00]);

        Assert.Equal([0x30, 0x82, 0xFF, 0x00], BoundedFile.ReadBytes(path, 16));
    }

    [Fact]
    public void A_missing_file_is_null_not_an_error()
    {
        Assert.Null(BoundedFile.ReadText(Path.Combine(_dir, "absent.yaml"), 1024));
        Assert.Null(BoundedFile.ReadBytes(Path.Combine(_dir, "no-dir", "absent.yaml"), 1024));
    }

    [Fact]
    public void A_symbolic_link_is_followed()
    {
        string target = Write("real.yaml", "read-only: true\n");
        string link = Path.Combine(_dir, "agent.yaml");
        File.CreateSymbolicLink(link, target);

        Assert.Equal("read-only: true\n", BoundedFile.ReadText(link, 1024));
    }

    [Fact]
    public void A_symbolic_link_is_refused_unread_when_links_are_not_followed()
    {
        // The lease ledger's files: a link planted at the checkpoint's path must not make the root daemon read elsewhere.
        string target = Write("real.ckpt", "x");
        string link = Path.Combine(_dir, "leases.ckpt");
        File.CreateSymbolicLink(link, target);

        var ex = Assert.Throws<BoundedFileException>(() => BoundedFile.ReadBytes(link, 1024, followLinks: false));

        Assert.Equal($"{link}: is not a regular file (a symbolic link, not followed)", ex.Message);
        Assert.Equal([(byte)'x'], BoundedFile.ReadBytes(target, 1024, followLinks: false)!);
        Assert.Null(BoundedFile.ReadBytes(Path.Combine(_dir, "absent"), 1024, followLinks: false));
    }

    [Fact]
    public void A_file_over_the_limit_is_refused_with_the_limit_in_mebibytes_when_whole()
    {
        string path = Write("huge", new string('#', (1024 * 1024) + 1));

        var ex = Assert.Throws<BoundedFileException>(() => BoundedFile.ReadText(path, 1024 * 1024));

        Assert.Equal($"{path}: is larger than 1 MiB", ex.Message);
        Assert.Equal("is larger than 1 MiB", ex.Problem);
        Assert.False(ex.NotUtf8);
    }

    [Fact]
    public void A_directory_is_refused_as_a_directory()
    {
        var ex = Assert.Throws<BoundedFileException>(() => BoundedFile.ReadText(_dir, 1024));

        Assert.Equal($"{_dir}: is a directory", ex.Message);
    }

    [Fact]
    public async Task A_device_that_never_ends_is_refused_without_reading_it()
    {
        Task<string?> read = Task.Run(() => BoundedFile.ReadText("/dev/zero", 1024));

        var ex = await Assert.ThrowsAsync<BoundedFileException>(() => read.WaitAsync(TimeSpan.FromMinutes(1)));

        Assert.Equal("/dev/zero: is not a regular file", ex.Message);
    }

    [Fact]
    public async Task A_fifo_without_a_writer_is_refused_not_waited_on()
    {
        string fifo = Path.Combine(_dir, "fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        Task<byte[]?> read = Task.Run(() => BoundedFile.ReadBytes(fifo, 1024));

        var ex = await Assert.ThrowsAsync<BoundedFileException>(() => read.WaitAsync(TimeSpan.FromMinutes(1)));

        Assert.Equal("is not a regular file", ex.Problem);
    }

    [Fact]
    public void A_file_longer_when_read_than_its_length_said_is_refused_at_the_limit()
    {
        // /proc/self/status reports a length of 0, within any limit, as a file that grows after fstat would: the read
        // does not trust the length and stops one byte past the limit.
        var ex = Assert.Throws<BoundedFileException>(() => BoundedFile.ReadText("/proc/self/status", 64));

        Assert.Equal("/proc/self/status: is larger than 64 bytes", ex.Message);
    }

    [Fact]
    public void A_procfs_file_that_reports_no_length_is_read_to_its_end()
    {
        // /proc/self/status reports a length of 0; the read must not stop at the length.
        string? text = BoundedFile.ReadText("/proc/self/status", 64 * 1024);

        Assert.StartsWith("Name:", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_byte_order_mark_is_skipped_and_a_bad_byte_named_by_its_offset_in_the_file()
    {
        string good = Path.Combine(_dir, "bom.yaml");
        File.WriteAllBytes(good, [0xEF, 0xBB, 0xBF, .. "a: 1\n"u8]);
        string bad = Path.Combine(_dir, "bad.yaml");
        File.WriteAllBytes(bad, [0xEF, 0xBB, 0xBF, 0x61, 0xFF]);

        Assert.Equal("a: 1\n", BoundedFile.ReadText(good, 1024));
        var ex = Assert.Throws<BoundedFileException>(() => BoundedFile.ReadText(bad, 1024));
        Assert.Equal($"{bad}: is not valid UTF-8 at byte offset 4", ex.Message);
        Assert.True(ex.NotUtf8);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
