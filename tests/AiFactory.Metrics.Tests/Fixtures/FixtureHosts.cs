using AiFactory.Agent.Metrics.Sources;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Metrics.Tests.Fixtures;

/// <summary>The captured hardware fixtures as the metrics collectors see them.</summary>
internal static class FixtureHosts
{
    /// <summary>The node snapshot the daemon would build: discovery of the fixture plus AER counters from its sysfs.</summary>
    public static NodeSnapshot Node(string name)
    {
        string root = HardwareFixtures.Root(name);
        HostTopology topology = new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();
        return new InventoryNodeSource(() => topology, Path.Combine(root, "sys")).Read();
    }
}
