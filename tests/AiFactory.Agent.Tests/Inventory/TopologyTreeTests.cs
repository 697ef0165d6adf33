using AiFactory.Agent.Inventory;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;

namespace AiFactory.Agent.Tests.Inventory;

/// <summary>The tree of <c>GetTopology</c> and <c>aifactoryctl topology</c>, built from fixture inventories.</summary>
public sealed class TopologyTreeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_node_whose_first_cpu_is_offline_still_hangs_under_its_socket_with_all_its_gpus()
    {
        Unpack("dgx-h100");
        File.WriteAllText(Sys("devices/system/cpu/online"), "0-55,57-223\n");

        TopologyNode root = Tree();

        Assert.Equal(["socket:0", "socket:1"], root.Children.Select(c => c.Kind + ":" + c.Id));
        Assert.Equal("socket:1", Path(root, "numa_node", "1")[^2]);
        Assert.Equal(8, Flatten(root).Count(n => n.Kind == "gpu"));
    }

    [Fact]
    public void A_device_whose_numa_node_is_unknown_hangs_under_the_machine_not_under_node_0()
    {
        Unpack("dgx-h100");
        File.WriteAllText(Sys("devices/pci0000:97/0000:97:01.0/numa_node"), "-1\n");

        TopologyNode root = Tree();

        Assert.Equal(["machine:0", "root_port:0000:97:01.0"], Path(root, "root_port", "0000:97:01.0"));
        Assert.DoesNotContain("numa_node:0", Path(root, "gpu", "0000:9a:00.0"));
        Assert.Equal(["machine:0", "socket:1", "numa_node:1", "root_port:0000:a8:01.0"], Path(root, "root_port", "0000:a8:01.0"));
    }

    [Fact]
    public void The_cpu_less_gpu_memory_nodes_of_a_gh200_hang_under_the_grace_socket()
    {
        Unpack("gh200");

        TopologyNode root = Tree();

        TopologyNode socket = Assert.Single(root.Children, c => c.Kind == "socket");
        Assert.Equal(9, socket.Children.Count(c => c.Kind == "numa_node"));
        Assert.DoesNotContain(root.Children, c => c.Kind == "numa_node");
        Assert.EndsWith("memory only", socket.Children.Single(c => c.Id == "1").Label, StringComparison.Ordinal);
    }

    [Fact]
    public void A_node_with_no_online_cpu_is_still_drawn()
    {
        Unpack("dgx-h100");
        File.WriteAllText(Sys("devices/system/cpu/online"), "0-55,112-167\n");

        TopologyNode root = Tree();

        Assert.Equal(["machine:0", "numa_node:1"], Path(root, "numa_node", "1"));
        Assert.Equal(8, Flatten(root).Count(n => n.Kind == "gpu"));
    }

    [Fact]
    public void A_node_whose_memory_is_unknown_says_so_instead_of_0_gib()
    {
        Unpack("dgx-h100");
        File.Delete(Sys("devices/system/node/node1/meminfo"));

        TopologyNode root = Tree();

        Assert.Equal("NUMA node 1 (cpus 56-111,168-223, memory unknown)", Flatten(root).Single(n => n.Kind == "numa_node" && n.Id == "1").Label);
        Assert.EndsWith("GiB)", Flatten(root).Single(n => n.Kind == "numa_node" && n.Id == "0").Label, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_procfs_the_machine_memory_is_unknown_not_0_gib()
    {
        Unpack("workstation");
        string sys = System.IO.Path.Combine(_dir.Path, "sys");

        TopologyNode root = TopologyTree.Build(InventoryMapper.ToProto(new HostDiscovery(sys, null).Discover(), sys, null));

        Assert.EndsWith(", memory unknown)", root.Label, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_numa_in_the_kernel_the_tree_still_has_the_socket_and_node_0()
    {
        Unpack("workstation");
        Directory.Delete(Sys("devices/system/node"), recursive: true);

        TopologyNode root = Tree();

        Assert.Equal(["machine:0", "socket:0", "numa_node:0"], Path(root, "numa_node", "0"));
    }

    /// <summary>The kind:id of each node from the root down to the node of that kind and id.</summary>
    internal static string[] Path(TopologyNode root, string kind, string id)
    {
        var path = new List<string>();
        return Find(root) ? [.. path] : throw new Xunit.Sdk.XunitException($"no {kind} {id} in the tree");

        bool Find(TopologyNode n)
        {
            path.Add(n.Kind + ":" + n.Id);
            if ((n.Kind == kind && n.Id == id) || n.Children.Any(Find))
            {
                return true;
            }

            path.RemoveAt(path.Count - 1);
            return false;
        }
    }

    internal static IEnumerable<TopologyNode> Flatten(TopologyNode n) => n.Children.SelectMany(Flatten).Prepend(n);

    private string Sys(string relative) => System.IO.Path.Combine(_dir.Path, "sys", relative);

    private TopologyNode Tree()
    {
        string sys = System.IO.Path.Combine(_dir.Path, "sys");
        string proc = System.IO.Path.Combine(_dir.Path, "proc");
        return TopologyTree.Build(InventoryMapper.ToProto(new HostDiscovery(sys, proc).Discover(), sys, proc));
    }

    private void Unpack(string fixture)
    {
        string repo = AppContext.BaseDirectory;
        while (!Directory.Exists(System.IO.Path.Combine(repo, "hardware-fixtures")))
        {
            repo = System.IO.Path.GetDirectoryName(repo)!;
        }

        TextArchive.Extract(System.IO.Path.Combine(repo, "hardware-fixtures", fixture + ".ttar"), _dir.Path);
    }
}
