using AiFactory.Host.Hardware.Files;

namespace AiFactory.Host.Hardware.Tests.Files;

/// <summary>A file named by a caller but read only inside one directory, and errors that never quote it.</summary>
public sealed class ConfinedFileTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("aifactory-confined-").FullName;
    private readonly string _allowed;

    public ConfinedFileTests() => _allowed = Directory.CreateDirectory(Path.Combine(_root, "allowed")).FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_regular_file_below_the_directory_is_read()
    {
        Directory.CreateDirectory(Path.Combine(_allowed, "sub"));
        File.WriteAllText(Path.Combine(_allowed, "sub", "config.yaml"), "version: v1\n");

        Assert.Equal("version: v1\n", ConfinedFile.ReadText(_allowed, Path.Combine(_allowed, "sub", "config.yaml"), 1024));
    }

    [Fact]
    public void A_symbolic_link_that_stays_inside_the_directory_is_followed()
    {
        File.WriteAllText(Path.Combine(_allowed, "real.yaml"), "inside\n");
        File.CreateSymbolicLink(Path.Combine(_allowed, "alias.yaml"), "real.yaml");

        Assert.Equal("inside\n", ConfinedFile.ReadText(_allowed, Path.Combine(_allowed, "alias.yaml"), 1024));
    }

    [Fact]
    public void A_directory_link_that_leads_out_is_refused()
    {
        Directory.CreateDirectory(Path.Combine(_root, "outside"));
        File.WriteAllText(Path.Combine(_root, "outside", "secret"), "root:*:20228:0:99999:7:::\n");
        Directory.CreateSymbolicLink(Path.Combine(_allowed, "escape"), Path.Combine(_root, "outside"));
        string path = Path.Combine(_allowed, "escape", "secret");

        var ex = Assert.Throws<IOException>(() => ConfinedFile.ReadText(_allowed, path, 1024));

        Assert.Equal($"{path}: leads out of {_allowed}/ (a symbolic link)", ex.Message);
    }

    [Theory]
    [InlineData("relative/config.yaml", "must be an absolute path below")]
    [InlineData("/etc/passwd", "must be a file below")]
    public void A_path_that_is_not_below_the_directory_is_refused_before_anything_is_opened(string path, string reason)
    {
        var ex = Assert.Throws<IOException>(() => ConfinedFile.ReadText(_allowed, path, 1024));

        Assert.StartsWith($"{path}: {reason}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_path_with_dot_dot_is_refused_even_when_it_would_land_inside()
    {
        File.WriteAllText(Path.Combine(_allowed, "config.yaml"), "x");
        string path = $"{_allowed}/sub/../config.yaml";

        var ex = Assert.Throws<IOException>(() => ConfinedFile.ReadText(_allowed, path, 1024));

        Assert.Equal($"{path}: must not contain . or .. components", ex.Message);
    }

    [Fact]
    public void A_directory_is_refused()
    {
        Directory.CreateDirectory(Path.Combine(_allowed, "dir"));

        var ex = Assert.Throws<BoundedFileException>(() => ConfinedFile.ReadText(_allowed, Path.Combine(_allowed, "dir"), 1024));

        Assert.EndsWith(": is a directory", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_over_the_limit_is_refused_without_quoting_it()
    {
        string path = Path.Combine(_allowed, "big.yaml");
        File.WriteAllText(path, new string('s', 1025));

        var ex = Assert.Throws<BoundedFileException>(() => ConfinedFile.ReadText(_allowed, path, 1024));

        Assert.Equal($"{path}: is larger than 1024 bytes", ex.Message);
    }

    [Fact]
    public void A_file_that_is_not_utf8_is_named_by_offset()
    {
        string path = Path.Combine(_allowed, "binary");
        File.WriteAllBytes(path, [0x61, 0x62, 0xFF, 0x63]);

        var ex = Assert.Throws<BoundedFileException>(() => ConfinedFile.ReadText(_allowed, path, 1024));

        Assert.Equal($"{path}: is not valid UTF-8 at byte offset 2", ex.Message);
    }
}
