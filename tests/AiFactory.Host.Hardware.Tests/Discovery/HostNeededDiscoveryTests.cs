using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Tests.Shared;

namespace AiFactory.Host.Hardware.Tests.Discovery;

/// <summary>
/// Network interfaces by link type, and which devices the host needs: the boot disk and the management NIC, the one
/// definition the IOMMU group reports share with the profile (Configure/HostNeededDevices).
/// </summary>
public sealed class HostNeededDiscoveryTests : IDisposable
{
    private readonly string _root = HardwareFixtures.FreshCopy("dgx-h100");

    public void Dispose() => Directory.Delete(_root, true);

    [Theory]
    [InlineData("1", NetDeviceKind.Ethernet, true)]
    [InlineData("32", NetDeviceKind.IpOverInfiniBand, true)]
    [InlineData("772", NetDeviceKind.Loopback, true)]
    [InlineData("776", NetDeviceKind.OtherNetwork, true)]
    [InlineData(null, NetDeviceKind.Ethernet, true)]
    [InlineData("banana", NetDeviceKind.OtherNetwork, false)]
    [InlineData("-1", NetDeviceKind.OtherNetwork, false)]
    [InlineData("", NetDeviceKind.OtherNetwork, false)]
    public void A_network_interface_is_classified_by_its_link_type(string? raw, NetDeviceKind expected, bool parses)
    {
        Assert.Equal(parses, NetClassReader.TryParseType(raw, out NetDeviceKind kind, out string? error));
        Assert.Equal(expected, kind);
        Assert.Equal(parses, error is null);
    }

    [Fact]
    public void The_ib_interfaces_of_the_dgx_are_ipoib_and_its_ethernet_ports_ethernet()
    {
        HostTopology t = Discover();

        Assert.Equal(8, t.NetDevices.Count(n => n.Kind == NetDeviceKind.IpOverInfiniBand && n.Name.StartsWith("ibp", StringComparison.Ordinal)));
        Assert.Equal(4, t.NetDevices.Count(n => n.Kind == NetDeviceKind.Ethernet && n.Name.StartsWith("enp161s0", StringComparison.Ordinal)));
        Assert.All(t.NetDevices.Where(n => !n.IsNetworkInterface), n => Assert.StartsWith("mlx5_", n.Name, StringComparison.Ordinal));
    }

    [Fact]
    public void Without_a_default_route_or_a_root_mount_no_group_of_the_dgx_holds_a_device_the_host_needs()
    {
        HostTopology t = Discover();

        Assert.Empty(t.HostNeeded);
        Assert.All(IommuGroupReport.Analyze(t), g => Assert.Empty(g.HostNeeded));
    }

    [Fact]
    public void The_nic_of_the_default_route_is_host_needed_and_its_group_says_so()
    {
        Directory.CreateDirectory(Path.Combine(_root, "proc/net"));
        File.WriteAllText(Path.Combine(_root, "proc/net/route"),
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
            "enp161s0f0np0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");

        HostTopology t = Discover();

        var nic = PciAddress.Parse("0000:a1:00.0");
        Assert.Equal([nic], t.HostNeeded.Keys);
        Assert.Contains("enp161s0f0np0", t.HostNeeded[nic], StringComparison.Ordinal);
        IommuGroupReport[] flagged = [.. IommuGroupReport.Analyze(t).Where(g => g.HostNeeded.Count > 0)];
        Assert.Equal([nic], Assert.Single(flagged).HostNeeded);
    }

    private HostTopology Discover() => new HostDiscovery(Path.Combine(_root, "sys"), Path.Combine(_root, "proc")).Discover();
}
