namespace AiFactory.Grpc.Tests.Support;

/// <summary>Finds the repository (the folder holding AiFactory.Agent.sln) from the test's output directory.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>tests/interop: the grpc-js peer. Its node_modules come from tests/setup.d/20-node.sh (npm ci).</summary>
    public static string Interop
    {
        get
        {
            string dir = Path.Combine(Root, "tests", "interop");
            if (!Directory.Exists(Path.Combine(dir, "node_modules", "@grpc", "grpc-js")))
            {
                throw new InvalidOperationException($"{dir}/node_modules is missing: run tests/setup.d/20-node.sh (npm ci in tests/interop) first.");
            }

            return dir;
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AiFactory.Agent.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No AiFactory.Agent.sln above {AppContext.BaseDirectory}.");
    }
}
