using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

public sealed class FixtureDiscoveryTests
{
    private static HostTopology Discover(string name)
    {
        string root = HardwareFixtures.Root(name);
        return new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();
    }

    [Theory]
    [MemberData(nameof(HardwareFixtures.All), MemberType = typeof(HardwareFixtures))]
    public void Every_fixture_is_read_without_warnings(string name)
    {
        HostTopology t = Discover(name);

        Assert.Empty(t.Warnings);
        Assert.NotEmpty(t.Cpus.Cpus);
        Assert.NotEmpty(t.PciDevices);
        Assert.NotEmpty(t.NumaNodes);
    }

    [Fact]
    public void Dgx_h100_has_two_sockets_224_cpus_and_eight_h100_gpus_at_their_real_bus_ids()
    {
        HostTopology t = Discover("dgx-h100");

        Assert.Equal([0, 1], t.Sockets);
        Assert.Equal(224, t.Cpus.Cpus.Count);
        Assert.Equal(112, t.Cpus.CoreCount);
        Assert.Equal(2, t.NumaNodes.Count);
        PciDevice[] gpus = [.. t.PciDevices.Where(d => d.Kind == DeviceKind.Gpu)];
        Assert.Equal(
            ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0", "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"],
            gpus.Select(g => g.Address.ToString()));
        Assert.All(gpus, g => Assert.Equal("H100 SXM5 80GB", g.ModelName));
        Assert.All(gpus, g => Assert.Equal("nvidia", g.Driver));
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1], gpus.Select(g => g.NumaNode ?? -1));
        Assert.Equal(4, t.PciDevices.Count(d => d.Kind == DeviceKind.NvSwitch));
    }

    [Fact]
    public void Every_dgx_h100_gpu_shares_its_pcie_switch_with_one_connectx7()
    {
        HostTopology t = Discover("dgx-h100");

        IReadOnlyList<GpuAffinity> affinity = GpuAffinity.Compute(t);

        Assert.Equal(8, affinity.Count);
        Assert.All(affinity, a =>
        {
            PciAddress nic = Assert.Single(a.NicsSameSwitch);
            Assert.Equal(0x1021, t.FindDevice(nic)!.DeviceId);
            Assert.Equal(a.Gpu.Bus + 1, nic.Bus);
        });
    }

    [Fact]
    public void Without_the_package_and_die_cpu_lists_of_older_kernels_each_core_gives_its_own_ids()
    {
        string root = HardwareFixtures.FreshCopy("dgx-h100");
        try
        {
            HostTopology withLists = new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();
            foreach (string topology in Directory.GetDirectories(Path.Combine(root, "sys/devices/system/cpu"), "cpu*").Select(d => Path.Combine(d, "topology")).Where(Directory.Exists))
            {
                File.Delete(Path.Combine(topology, "package_cpus_list"));
                File.Delete(Path.Combine(topology, "die_cpus_list"));
            }

            HostTopology without = new HostDiscovery(Path.Combine(root, "sys"), Path.Combine(root, "proc")).Discover();

            Assert.Empty(without.Warnings);
            Assert.Equal([0, 1], without.Sockets);
            Assert.Equal(withLists.Cpus.Cpus.Select(c => (c.Id, c.Socket, c.Die, c.Core)), without.Cpus.Cpus.Select(c => (c.Id, c.Socket, c.Die, c.Core)));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }
}
