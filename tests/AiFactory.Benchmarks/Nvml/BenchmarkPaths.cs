namespace AiFactory.Benchmarks.Nvml;

internal static class BenchmarkPaths
{
    public static string RepoRoot { get; } = Find();

    private static string Find()
    {
        string? env = Environment.GetEnvironmentVariable("AIFACTORY_REPO");
        if (!string.IsNullOrEmpty(env))
        {
            return env;
        }

        for (string? dir = Environment.CurrentDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "AiFactory.Agent.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("set AIFACTORY_REPO to the repository root");
    }
}
