using AiFactory.Agent.Metrics.Sources;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Metrics.Tests.Fixtures;

/// <summary>The captured hardware fixtures (hardware-fixtures/*.ttar), unpacked once per test run.</summary>
internal static class FixtureHosts
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, string> Unpacked = [];

    public static readonly string[] Names = ["dgx-h100", "hgx-a100", "gh200", "workstation"];

    public static IEnumerable<object[]> All => Names.Select(n => new object[] { n });

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

    /// <summary>The unpacked tree (sys/ and proc/) of <paramref name="name"/>; read only.</summary>
    public static string Root(string name)
    {
        lock (Gate)
        {
            if (!Unpacked.TryGetValue(name, out string? root))
            {
                root = Path.Combine(Path.GetTempPath(), $"aifactory-metrics-fixtures-{Environment.ProcessId}", name);
                if (Directory.Exists(root))
                {
                    Directory.Delete(root, true);
                }

                TextArchive.Extract(Path.Combine(RepositoryRoot, "hardware-fixtures", name + ".ttar"), root);
                Unpacked[name] = root;
            }

            return root;
        }
    }

    /// <summary>The node snapshot the daemon would build: discovery of the fixture plus AER counters from its sysfs.</summary>
    public static NodeSnapshot Node(string name)
    {
        string root = Root(name);
        HostTopology topology = new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();
        return new InventoryNodeSource(() => topology, Path.Combine(root, "sys")).Read();
    }
}
