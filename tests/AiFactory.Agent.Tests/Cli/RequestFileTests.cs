using AiFactory.Cli.Input;

namespace AiFactory.Agent.Tests.Cli;

/// <summary>Every file aifactoryctl sends to the agent (profile -f, --domain-xml, mig --config) or reads for TLS is read through RequestFile.</summary>
public sealed class RequestFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_regular_file_is_read_as_its_text_without_a_byte_order_mark()
    {
        string path = Path.Combine(_dir.Path, "profile.yaml");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "version: v1\n"u8]);

        string? text = RequestFile.ReadText(path, out string problem);

        Assert.Equal("version: v1\n", text);
        Assert.Equal(string.Empty, problem);
    }

    [Fact]
    public void A_missing_file_is_named_as_missing()
    {
        string? text = RequestFile.ReadText(Path.Combine(_dir.Path, "absent.yaml"), out string problem);

        Assert.Null(text);
        Assert.Equal("file does not exist", problem);
    }

    [Fact]
    public void An_empty_path_is_refused_as_empty()
    {
        Assert.Null(RequestFile.ReadText(string.Empty, out string problem));
        Assert.Equal("the path is empty", problem);
    }

    [Fact]
    public void A_directory_is_refused_as_a_directory_not_as_access_denied()
    {
        Assert.Null(RequestFile.ReadText(_dir.Path, out string problem));
        Assert.Equal("is a directory", problem);
    }

    [Fact]
    public async Task An_endless_device_is_refused_unread()
    {
        Task<string?> read = Task.Run(() => RequestFile.ReadText("/dev/zero", out _));

        Assert.Null(await read.WaitAsync(TimeSpan.FromMinutes(1)));
        RequestFile.ReadText("/dev/zero", out string problem);
        Assert.Equal("is not a regular file (a character device)", problem);
    }

    [Fact]
    public async Task A_fifo_without_a_writer_is_refused_not_waited_on()
    {
        string fifo = Path.Combine(_dir.Path, "fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        string problem = string.Empty;
        Task<string?> read = Task.Run(() => RequestFile.ReadText(fifo, out problem));

        Assert.Null(await read.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Equal("is not a regular file (a FIFO)", problem);
    }

    [Fact]
    public void A_file_of_the_limit_is_read_and_one_byte_more_is_refused()
    {
        string atLimit = _dir.File("at-limit.xml", new string('x', 64));
        string over = _dir.File("over.xml", new string('x', 65));

        Assert.Equal(64, RequestFile.ReadText(atLimit, 64, out _)!.Length);
        Assert.Null(RequestFile.ReadText(over, 64, out string problem));
        Assert.Equal("is larger than 64 bytes, the most a request to the agent may carry", problem);
    }

    [Fact]
    public void The_limit_is_the_agents_four_mebibyte_message_limit()
    {
        string over = Path.Combine(_dir.Path, "big.yaml");
        File.WriteAllBytes(over, new byte[(4 * 1024 * 1024) + 1]);

        Assert.Null(RequestFile.ReadText(over, out string problem));
        Assert.Equal("is larger than 4 MiB, the most a request to the agent may carry", problem);
    }

    [Fact]
    public void A_file_longer_when_read_than_its_length_said_is_refused_at_the_limit()
    {
        // /proc/self/status reports a length of 0: the read does not trust it and stops one byte past the limit.
        Assert.Null(RequestFile.ReadText("/proc/self/status", 16, out string problem));
        Assert.StartsWith("is larger than 16 bytes", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_that_are_not_utf8_are_refused_with_their_offset()
    {
        string path = Path.Combine(_dir.Path, "latin1.yaml");
        File.WriteAllBytes(path, [(byte)'a', (byte)'b', 0xE9, (byte)'\n']);

        Assert.Null(RequestFile.ReadText(path, out string problem));
        Assert.Equal("is not UTF-8 text (byte offset 2)", problem);
    }

    [Fact]
    public void The_usage_line_names_the_option_and_the_path_quoted_on_one_line()
    {
        string line = RequestFile.Describe("--file", "/tmp/a\nb.yaml", "file does not exist");

        Assert.Equal("--file: invalid value \"/tmp/a\\x0ab.yaml\": file does not exist", line);
    }
}
