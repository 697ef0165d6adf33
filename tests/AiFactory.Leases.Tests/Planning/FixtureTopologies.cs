using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>The captured servers in hardware-fixtures/, unpacked once per run and read by discovery (the real path).</summary>
internal static class FixtureTopologies
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, HostTopology> Cache = [];

    /// <summary>Where <paramref name="name"/> is unpacked (its <c>sys</c> and <c>proc</c>), for code that runs discovery itself.</summary>
    public static string Root(string name)
    {
        Load(name);
        return Path.Combine(Path.GetTempPath(), "aifactory-leases-fixtures-" + Environment.ProcessId, name);
    }

    public static HostTopology Load(string name)
    {
        lock (Gate)
        {
            if (!Cache.TryGetValue(name, out HostTopology? topology))
            {
                string? dir = AppContext.BaseDirectory;
                while (dir is not null && !Directory.Exists(Path.Combine(dir, "hardware-fixtures")))
                {
                    dir = Path.GetDirectoryName(dir);
                }

                Assert.True(dir is not null, "hardware-fixtures/ not found above " + AppContext.BaseDirectory);
                string root = Path.Combine(Path.GetTempPath(), "aifactory-leases-fixtures-" + Environment.ProcessId, name);
                if (Directory.Exists(root))
                {
                    Directory.Delete(root, true);
                }

                TextArchive.Extract(Path.Combine(dir!, "hardware-fixtures", name + ".ttar"), root);
                topology = new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();
                Cache[name] = topology;
            }

            return topology;
        }
    }
}
