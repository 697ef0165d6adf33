using System.Text;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Memory;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

/// <summary>
/// Discovery on several threads against discovery on one: the same inventory, the same warnings in the same order,
/// and the same hash for the rescan's change check, on every fixture and on a damaged tree.
/// </summary>
public sealed class ParallelDiscoveryTests
{
    public static TheoryData<string, int> FixturesAndThreads()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in HardwareFixtures.Names)
        {
            foreach (int threads in new[] { 2, 3, HostDiscovery.MaxReadThreads })
            {
                data.Add(name, threads);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FixturesAndThreads))]
    public void Several_threads_read_the_same_inventory_and_hash_as_one(string name, int threads)
    {
        string root = HardwareFixtures.Root(name);

        (string oneText, ulong oneHash) = Discover(Path.Combine(root, "sys"), Path.Combine(root, "proc"), 1);
        (string manyText, ulong manyHash) = Discover(Path.Combine(root, "sys"), Path.Combine(root, "proc"), threads);

        Assert.Equal(oneText, manyText);
        Assert.Equal(oneHash, manyHash);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(HostDiscovery.MaxReadThreads)]
    public void On_a_damaged_tree_the_warnings_come_in_the_one_thread_order_and_a_rescan_sees_no_change(int threads)
    {
        string root = HardwareFixtures.FreshCopy("workstation");
        try
        {
            string sys = Path.Combine(root, "sys");
            string gpu = Path.Combine(sys, "devices/pci0000:00/0000:00:01.0/0000:01:00.0");
            File.WriteAllText(Path.Combine(gpu, "numa_node"), "banana\n");
            File.WriteAllText(Path.Combine(gpu, "current_link_width"), "wide\n");
            File.WriteAllText(Path.Combine(sys, "devices/pci0000:00/0000:00:01.0/0000:01:00.1/vendor"), string.Empty);
            File.WriteAllText(Path.Combine(sys, "devices/system/cpu/cpu0/topology/core_id"), "zero\n");
            string link = Path.Combine(sys, "bus/pci/devices/0000:03:00.0");
            File.Delete(link);
            File.CreateSymbolicLink(link, "../../../devices/pci0000:00/0000:00:1d.0/0000:03:00.0-gone");
            File.CreateSymbolicLink(Path.Combine(sys, "bus/pci/devices/..evil"), "../../../devices/pci0000:00/0000:00:1d.0");
            File.CreateSymbolicLink(Path.Combine(sys, "bus/pci/devices/0000:7f:00.0"), "../../../../../../etc");

            (string oneText, ulong oneHash) = Discover(sys, Path.Combine(root, "proc"), 1);
            var many = new HostDiscovery(sys, Path.Combine(root, "proc")) { ReadThreads = threads };
            HostTopology t = many.Discover();

            Assert.Equal(oneText, Describe(t));
            Assert.Equal(oneHash, many.RecordedHash);
            Assert.True(t.Warnings.Count >= 6, string.Join('\n', t.Warnings));
            Assert.Contains(t.Warnings, w => w.Path == "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/numa_node" && w.RawValue == "banana");
            Assert.Contains(t.Warnings, w => w.Path == "/sys/devices/system/cpu/cpu0/topology/core_id" && w.RawValue == "zero");
            Assert.Contains(t.Warnings, w => w.Path == "/sys/bus/pci/devices/..evil");
            Assert.False(many.HasChanged());
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    private static (string Text, ulong Hash) Discover(string sys, string proc, int threads)
    {
        var discovery = new HostDiscovery(sys, proc) { ReadThreads = threads };
        string text = Describe(discovery.Discover());
        return (text, discovery.RecordedHash!.Value);
    }

    /// <summary>Every field of the inventory as text (records print their scalars; lists are spelled out here).</summary>
    private static string Describe(HostTopology t)
    {
        var sb = new StringBuilder();
        CpuTopology c = t.Cpus;
        sb.AppendLine($"cpus online={c.Online} possible={c.Possible} present={c.Present} isolated={c.Isolated} nohz={c.NohzFull}");
        foreach (LogicalCpu cpu in c.Cpus)
        {
            sb.AppendLine(cpu.ToString());
        }

        foreach (NumaNode n in t.NumaNodes)
        {
            sb.AppendLine($"node {n.Id} cpus={n.Cpus} total={n.MemoryTotalBytes} distances={string.Join(',', n.Distances)} hugepages={string.Join(';', n.Hugepages)}");
        }

        foreach (PciDevice d in t.PciDevices)
        {
            sb.AppendLine($"{d} reset={string.Join(',', d.ResetMethods)} bridges={string.Join(',', d.UpstreamBridges)} vfs={string.Join(',', d.Sriov?.VirtualFunctions ?? [])}");
        }

        foreach (IommuGroup g in t.IommuGroups)
        {
            sb.AppendLine($"group {g.Id} {string.Join(',', g.Members)}");
        }

        foreach (NetDevice n in t.NetDevices)
        {
            sb.AppendLine(n.ToString());
        }

        foreach (HugepageSize h in t.Hugepages)
        {
            sb.AppendLine(h.ToString());
        }

        sb.AppendLine($"memory={t.MemoryTotalBytes} cmdline={t.KernelCommandLine}");
        foreach (DiscoveryWarning w in t.Warnings)
        {
            sb.AppendLine(w.ToString());
        }

        return sb.ToString();
    }
}
