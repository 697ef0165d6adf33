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
}
