using AiFactory.Host.Hardware.Files;

namespace AiFactory.Host.Hardware.Tests.Files;

public sealed class WritableDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("aifactory-writabledir-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Missing_parents_are_created_like_mkdir_p()
    {
        string state = Path.Combine(_dir, "var", "lib", "aifactory");

        Assert.Null(WritableDirectory.Ensure(state));
        Assert.True(Directory.Exists(state));
    }

    [Fact]
    public void An_existing_directory_is_fine()
    {
        Assert.Null(WritableDirectory.Ensure(_dir));
    }

    [Fact]
    public void A_path_below_a_regular_file_names_the_path_and_the_errno_text()
    {
        string file = Path.Combine(_dir, "file");
        File.WriteAllText(file, "data");

        string? problem = WritableDirectory.Ensure(Path.Combine(file, "state"));

        Assert.Equal($"{file}/state: Not a directory", problem);
    }

    [Fact]
    public void A_regular_file_where_the_directory_should_be_is_not_a_directory_not_a_permission_problem()
    {
        string file = Path.Combine(_dir, "state");
        File.WriteAllText(file, "data");

        Assert.Equal($"{file}: Not a directory", WritableDirectory.Ensure(file));
        Assert.Equal("data", File.ReadAllText(file));
    }

    [Fact]
    public void A_dangling_link_where_the_directory_should_be_is_named_as_not_a_directory()
    {
        string link = Path.Combine(_dir, "state");
        File.CreateSymbolicLink(link, Path.Combine(_dir, "nowhere"));

        Assert.Equal($"{link}: Not a directory", WritableDirectory.Ensure(link));
        Assert.False(Directory.Exists(Path.Combine(_dir, "nowhere")));
    }
}
