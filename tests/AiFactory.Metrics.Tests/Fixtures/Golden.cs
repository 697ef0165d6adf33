namespace AiFactory.Metrics.Tests.Fixtures;

/// <summary>
/// Compares output with a checked-in file under Golden/. Set AIFACTORY_UPDATE_GOLDEN=1 to rewrite the files
/// (in the source tree) instead; review the diff before committing.
/// </summary>
internal static class Golden
{
    public static void AssertMatches(string name, string actual)
    {
        string source = Path.Combine(SourceDirectory(), "Golden", name);
        if (Environment.GetEnvironmentVariable("AIFACTORY_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(source, actual);
            return;
        }

        string expected = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", name));
        if (expected != actual)
        {
            string[] e = expected.Split('\n');
            string[] a = actual.Split('\n');
            int line = 0;
            while (line < e.Length && line < a.Length && e[line] == a[line])
            {
                line++;
            }

            Assert.Fail($"{name} differs at line {line + 1}:\n  expected: {(line < e.Length ? e[line] : "<end>")}\n  actual:   {(line < a.Length ? a[line] : "<end>")}\n" +
                        "Run with AIFACTORY_UPDATE_GOLDEN=1 to rewrite the golden file, then review the diff.");
        }
    }

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") =>
        Path.GetDirectoryName(Path.GetDirectoryName(path))!;
}
