using System.Diagnostics;

namespace AiFactory.EndToEnd.Tests;

/// <summary>Hardware fixtures unpacked with tools/fixture.sh, as a user would.</summary>
internal static class FixtureTrees
{
    /// <summary>Unpacks a fixture (name or .ttar path) into <paramref name="dest"/> (sys/ and proc/), or a fresh temp folder.</summary>
    public static string Unpack(string fixture, string? dest = null)
    {
        string repo = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(repo, "hardware-fixtures")))
        {
            repo = Path.GetDirectoryName(repo) ?? throw new InvalidOperationException("hardware-fixtures/ not found");
        }

        dest ??= Directory.CreateTempSubdirectory("aifactory-e2e-fixture-").FullName;
        using Process p = Process.Start(Path.Combine(repo, "tools", "fixture.sh"), ["unpack", fixture, dest]);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return dest;
    }
}
