using System.Reflection;

namespace AiFactory.EndToEnd.Tests;

/// <summary>
/// Where the binaries under test are: the native-AOT executables in <c>$AIFACTORY_PUBLISH_DIR</c> (tools/test.sh
/// publishes them), or else the JIT builds run through <c>dotnet</c>.
/// </summary>
internal static class Binaries
{
    private static readonly string? PublishDir = Environment.GetEnvironmentVariable("AIFACTORY_PUBLISH_DIR") is { Length: > 0 } dir ? dir : null;

    static Binaries()
    {
        if (PublishDir is null)
        {
            Console.Error.WriteLine("AiFactory.EndToEnd.Tests: AIFACTORY_PUBLISH_DIR is not set: testing the JIT builds through 'dotnet', not the native-AOT binaries (tools/test.sh publishes and sets it).");
        }
    }

    /// <summary>True when the tests run the published native-AOT executables.</summary>
    public static bool NativeAot => PublishDir is not null;

    /// <summary>The agent: the file to execute and the arguments that come before ours.</summary>
    public static (string File, string[] Prefix) Agent => Find("aifactory-agent", "JitAgentDll");

    /// <summary>The CLI: the file to execute and the arguments that come before ours.</summary>
    public static (string File, string[] Prefix) Cli => Find("aifactoryctl", "JitCliDll");

    private static (string, string[]) Find(string name, string jitKey)
    {
        if (PublishDir is not null)
        {
            string path = Path.Combine(PublishDir, name);
            return File.Exists(path)
                ? (path, [])
                : throw new FileNotFoundException($"AIFACTORY_PUBLISH_DIR={PublishDir} has no {name}: run tools/publish-aot.sh", path);
        }

        string dll = Path.GetFullPath(typeof(Binaries).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == jitKey).Value!);
        return File.Exists(dll)
            ? ("dotnet", [dll])
            : throw new FileNotFoundException($"the JIT build of {name} is missing; build the solution first", dll);
    }
}
