using AiFactory.Host.Hardware.Files;

namespace AiFactory.Host.Hardware.Tests.Files;

/// <summary>What a reload compares: a file's version changes when it is replaced or rewritten, and only then.</summary>
public sealed class FileVersionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aifactory-fileversion-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void An_untouched_file_keeps_its_version_which_holds_its_size_and_modification_time()
    {
        string path = Write("clients.crl", "first");

        FileVersion? first = FileVersion.OfPath(path);
        FileVersion? second = FileVersion.OfPath(path);

        Assert.NotNull(first);
        Assert.Equal(first, second);
        Assert.Equal(5UL, first.Value.Size);
        Assert.Equal(File.GetLastWriteTimeUtc(path), first.Value.Modified.UtcDateTime, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public void A_file_renamed_over_it_with_the_same_content_and_modification_time_is_another_version()
    {
        string path = Write("clients.crl", "same");
        FileVersion? before = FileVersion.OfPath(path);
        string next = Write("clients.crl.new", "same");
        File.SetLastWriteTimeUtc(next, File.GetLastWriteTimeUtc(path));

        File.Move(next, path, overwrite: true);

        Assert.NotEqual(before, FileVersion.OfPath(path));
    }

    [Fact]
    public void A_file_rewritten_in_place_is_another_version()
    {
        string path = Write("clients.crl", "first");
        FileVersion? before = FileVersion.OfPath(path);

        File.WriteAllText(path, "second, longer");

        Assert.NotEqual(before, FileVersion.OfPath(path));
    }

    [Fact]
    public void A_symbolic_link_is_followed_and_repointing_it_is_another_version()
    {
        string one = Write("one.crl", "one");
        string two = Write("two.crl", "two");
        string link = Path.Combine(_dir, "clients.crl");
        File.CreateSymbolicLink(link, one);
        FileVersion? before = FileVersion.OfPath(link);

        File.Delete(link);
        File.CreateSymbolicLink(link, two);

        Assert.Equal(FileVersion.OfPath(one), before);
        Assert.Equal(FileVersion.OfPath(two), FileVersion.OfPath(link));
    }

    [Fact]
    public void Nothing_there_or_a_dangling_link_has_no_version()
    {
        string link = Path.Combine(_dir, "dangling.crl");
        File.CreateSymbolicLink(link, Path.Combine(_dir, "absent.crl"));

        Assert.Null(FileVersion.OfPath(Path.Combine(_dir, "absent.crl")));
        Assert.Null(FileVersion.OfPath(link));
        Assert.Null(FileVersion.OfPath(Path.Combine(_dir, "absent", "clients.crl")));
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
