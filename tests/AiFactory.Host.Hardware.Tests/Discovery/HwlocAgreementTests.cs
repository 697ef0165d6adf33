using System.Diagnostics;
using System.Xml.Linq;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

/// <summary>
/// The reference check: hwloc (lstopo-no-graphics, installed by tests/setup.d/30-hwloc.sh) reads the same fixture
/// tree and must count the same sockets, cores, PUs and NUMA nodes, and see every PCI function on the same NUMA node.
/// </summary>
public sealed class HwlocAgreementTests
{
    private const string Lstopo = "/usr/bin/lstopo-no-graphics";

    [Theory]
    [MemberData(nameof(HardwareFixtures.All), MemberType = typeof(HardwareFixtures))]
    public void Counts_and_pci_numa_nodes_agree_with_hwloc(string name)
    {
        Assert.True(File.Exists(Lstopo), "hwloc is missing: run tests/setup.d/30-hwloc.sh (apt-get install hwloc-nox)");
        string root = HardwareFixtures.Root(name);
        HostTopology ours = new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();

        XDocument hwloc = XDocument.Parse(RunLstopo(root));
        XElement[] objects = [.. hwloc.Descendants("object")];
        int Count(string type) => objects.Count(o => (string?)o.Attribute("type") == type);

        Assert.Equal(Count("Package"), ours.Sockets.Count);
        Assert.Equal(Count("Core"), ours.Cpus.CoreCount);
        Assert.Equal(Count("PU"), ours.Cpus.Cpus.Count);
        Assert.Equal(Count("NUMANode"), ours.NumaNodes.Count);

        XElement[] pci = [.. objects.Where(o => (string?)o.Attribute("type") is "PCIDev" or "Bridge" && o.Attribute("pci_busid") is not null)];
        Assert.Equal(pci.Length, ours.PciDevices.Count);
        foreach (XElement p in pci)
        {
            PciAddress address = PciAddress.Parse((string)p.Attribute("pci_busid")!);
            PciDevice? device = ours.FindDevice(address);
            Assert.NotNull(device);
            (int? node, List<int> cpus) = HwlocLocality(p);
            if (node is not null)
            {
                Assert.True(node == device.NumaNode, $"{address}: hwloc says NUMA node {node}, we say {device.NumaNode?.ToString() ?? "unknown"}");
            }
            else if (device.NumaNode is int ourNode)
            {
                // hwloc places devices by local_cpus, so it cannot tell a node apart from CPU-less nodes beside it
                // (GH200): then our node's CPUs must at least lie within hwloc's locality.
                Assert.True(ours.FindNode(ourNode)!.Cpus.All(cpus.Contains), $"{address}: we say NUMA node {ourNode}, outside hwloc's locality");
            }
        }
    }

    [Fact]
    public void A_kernel_without_numa_has_one_node_holding_every_cpu_and_the_memory_as_hwloc_counts()
    {
        Assert.True(File.Exists(Lstopo), "hwloc is missing: run tests/setup.d/30-hwloc.sh (apt-get install hwloc-nox)");
        string root = HardwareFixtures.FreshCopy("workstation");
        try
        {
            Directory.Delete(Path.Combine(root, "sys/devices/system/node"), recursive: true);

            HostTopology ours = new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();

            XElement[] objects = [.. XDocument.Parse(RunLstopo(root)).Descendants("object")];
            Assert.Equal(objects.Count(o => (string?)o.Attribute("type") == "NUMANode"), ours.NumaNodes.Count);
            NumaNode node = Assert.Single(ours.NumaNodes);
            Assert.Equal(0, node.Id);
            Assert.Equal(ours.Cpus.Online, node.Cpus);
            Assert.Equal(ours.MemoryTotalBytes, node.MemoryTotalBytes);
            Assert.Equal(131546300L * 1024, node.MemoryTotalBytes);
            Assert.Equal(ours.Hugepages.Select(h => (h.PageSizeKiB, h.Total)), node.Hugepages.Select(h => (h.PageSizeKiB, h.Total)));
            Assert.All(ours.Cpus.Cpus, c => Assert.Equal(0, c.NumaNode));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// Where hwloc put an I/O object: its first non-I/O ancestor's single NUMA node (null when that is the machine
    /// itself, i.e. locality unknown, or several nodes) and that ancestor's CPUs.
    /// </summary>
    private static (int? Node, List<int> Cpus) HwlocLocality(XElement io)
    {
        for (XElement? a = io.Parent; a is not null; a = a.Parent)
        {
            string? type = (string?)a.Attribute("type");
            if (type is "PCIDev" or "Bridge" or "OSDev" || a.Attribute("nodeset") is null)
            {
                continue;
            }

            List<int> nodes = ParseMask((string)a.Attribute("nodeset")!);
            List<int> cpus = ParseMask((string)a.Attribute("cpuset")!);
            return (nodes.Count == 1 && type != "Machine" ? nodes[0] : null, cpus);
        }

        return (null, []);
    }

    private static List<int> ParseMask(string mask)
    {
        var result = new List<int>();
        string[] words = mask.Split(',');
        for (int w = 0; w < words.Length; w++)
        {
            string word = words[words.Length - 1 - w].Replace("0x", string.Empty, StringComparison.Ordinal);
            uint bits = word.Length == 0 ? 0 : Convert.ToUInt32(word, 16); // hwloc writes zero words as empty
            for (int b = 0; b < 32; b++)
            {
                if ((bits & (1u << b)) != 0)
                {
                    result.Add((w * 32) + b);
                }
            }
        }

        return result;
    }

    private static string RunLstopo(string root)
    {
        var psi = new ProcessStartInfo(Lstopo, ["--whole-io", "--of", "xml", "-"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["HWLOC_FSROOT"] = root;
        psi.Environment["HWLOC_COMPONENTS"] = "-x86";
        using Process p = Process.Start(psi)!;
        string xml = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, "lstopo failed: " + p.StandardError.ReadToEnd());
        return xml;
    }
}
