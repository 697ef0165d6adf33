namespace AiFactory.Packaging.Tests;

/// <summary>Paths of the repository this test assembly was built from.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => System.IO.Path.Combine(Root, relative);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "VERSION")) && Directory.Exists(System.IO.Path.Combine(dir.FullName, "packaging")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository root (a folder with VERSION and packaging/) above " + AppContext.BaseDirectory);
    }
}
