using System.Globalization;
using System.Xml.Linq;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Topology;
using AiFactory.Leases.Tests.Planning;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>
/// The host libvirt's <c>test:///default</c> driver pretends to be (2 NUMA cells × 8 CPUs, read from its capabilities),
/// with two GPUs and a ConnectX PF + VFs under one of the GPUs' PCIe switch taken from the DGX H100 literal topology.
/// </summary>
internal static class TestDriverHost
{
    public const string Uri = "test:///default";

    public static HostTopology Build()
    {
        string? why = NativeLibvirt.Unavailable;
        Assert.True(why is null, $"libvirt.so.0 is needed for these tests (tests/setup.d/80-libvirt.sh installs Debian libvirt0): {why}");
        using ILibvirtConnection connection = new NativeLibvirt().Open(Uri);
        XDocument caps = XDocument.Parse(connection.GetCapabilities());
        var cpus = new List<LogicalCpu>();
        var nodes = new List<NumaNode>();
        foreach (XElement cell in caps.Descendants("cell"))
        {
            int id = (int)cell.Attribute("id")!;
            var ids = new List<int>();
            foreach (XElement cpu in cell.Descendants("cpu"))
            {
                int cpuId = (int)cpu.Attribute("id")!;
                ids.Add(cpuId);
                cpus.Add(new LogicalCpu(cpuId, (int)cpu.Attribute("socket_id")!, 0, (int)cpu.Attribute("core_id")!, CpuSet.Parse((string)cpu.Attribute("siblings")!), id));
            }

            long kib = long.Parse(cell.Element("memory")!.Value, CultureInfo.InvariantCulture);
            nodes.Add(new NumaNode
            {
                Id = id,
                Cpus = CpuSet.Of(ids),
                MemoryTotalBytes = kib * 1024,
                MemoryFreeBytes = kib * 1024,
                Distances = id == 0 ? [10, 20] : [20, 10],
                Hugepages = [new HugepagePool(2048, 512, 512, 0), new HugepagePool(1024 * 1024, 1, 1, 0)],
            });
        }

        CpuSet all = CpuSet.Of(cpus.Select(c => c.Id));
        byte[] buses = [0x18, 0x19, 0x9a, 0x9b];
        return new HostTopology
        {
            Cpus = new CpuTopology { Online = all, Possible = all, Present = all, Cpus = [.. cpus.OrderBy(c => c.Id)] },
            NumaNodes = nodes,
            PciDevices = [.. Topologies.DgxH100.PciDevices.Where(d => buses.Contains(d.Address.Bus))],
            IommuGroups = Topologies.DgxH100.IommuGroups,
        };
    }
}
