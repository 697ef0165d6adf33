using AiFactory.Host.Hardware.Fixtures;

namespace AiFactory.Tests.Shared;

/// <summary>The archives in hardware-fixtures/, each unpacked once per test run into a fresh temp directory.</summary>
public static class HardwareFixtures
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, string> Unpacked = [];

    /// <summary>Every fixture's name.</summary>
    public static readonly string[] Names = ["dgx-h100", "hgx-a100", "gh200", "workstation"];

    /// <summary>For xunit [MemberData].</summary>
    public static IEnumerable<object[]> All => Names.Select(n => new object[] { n });

    /// <summary>The repository root (the directory holding hardware-fixtures/).</summary>
    public static string RepositoryRoot
    {
        get
        {
            string? dir = AppContext.BaseDirectory;
            while (dir is not null && !Directory.Exists(Path.Combine(dir, "hardware-fixtures")))
            {
                dir = Path.GetDirectoryName(dir);
            }

            return dir ?? throw new InvalidOperationException("hardware-fixtures/ not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The archive file of <paramref name="name"/>.</summary>
    public static string ArchivePath(string name) => Path.Combine(RepositoryRoot, "hardware-fixtures", name + ".ttar");

    /// <summary>The unpacked tree (holding sys/ and proc/) of <paramref name="name"/>; do not modify it.</summary>
    public static string Root(string name)
    {
        lock (Gate)
        {
            if (!Unpacked.TryGetValue(name, out string? root))
            {
                root = Path.Combine(Path.GetTempPath(), "aifactory-fixtures-" + Environment.ProcessId, name);
                if (Directory.Exists(root))
                {
                    Directory.Delete(root, true);
                }

                TextArchive.Extract(ArchivePath(name), root);
                Unpacked[name] = root;
            }

            return root;
        }
    }

    /// <summary>A private, writable copy of <paramref name="name"/> for tests that break things.</summary>
    public static string FreshCopy(string name)
    {
        string root = Path.Combine(Path.GetTempPath(), "aifactory-fixture-copy-" + Guid.NewGuid().ToString("N"));
        TextArchive.Extract(ArchivePath(name), root);
        return root;
    }
}
