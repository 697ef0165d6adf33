using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Model.Tests.Topology;

/// <summary>GPU affinity and IOMMU group analysis on small named literal topologies.</summary>
public sealed class TopologyAnalysisTests
{
    private static PciDevice Dev(string address, DeviceKind kind, int? node, string? driver, params string[] upstream) => new()
    {
        Address = PciAddress.Parse(address),
        VendorId = 0x10de,
        DeviceId = 1,
        ClassCode = kind switch { DeviceKind.Bridge => 0x060400u, DeviceKind.Nic => 0x020000u, DeviceKind.Nvme => 0x010802u, DeviceKind.GpuAudio => 0x040300u, _ => 0x030200u },
        Kind = kind,
        NumaNode = node,
        Driver = driver,
        UpstreamBridges = [.. upstream.Select(PciAddress.Parse)],
        IommuGroup = null,
    };

    private static HostTopology Topology(IReadOnlyList<PciDevice> devices, IReadOnlyList<IommuGroup>? groups = null, IReadOnlyList<NetDevice>? nets = null) => new()
    {
        Cpus = new CpuTopology { Online = CpuSet.Of(0, 1), Possible = CpuSet.Of(0, 1), Present = CpuSet.Of(0, 1), Cpus = [] },
        NumaNodes = [new NumaNode { Id = 0, Cpus = CpuSet.Of(0) }, new NumaNode { Id = 1, Cpus = CpuSet.Of(1) }],
        PciDevices = devices,
        IommuGroups = groups ?? [],
        NetDevices = nets ?? [],
    };

    /// <summary>One GPU and one NIC under a switch, a second NIC on another root port of the same node, a third on the other node.</summary>
    private static readonly HostTopology SwitchPair = Topology(
    [
        Dev("0000:15:01.0", DeviceKind.Bridge, 0, "pcieport"),
        Dev("0000:16:00.0", DeviceKind.Bridge, 0, "pcieport", "0000:15:01.0"),
        Dev("0000:17:00.0", DeviceKind.Bridge, 0, "pcieport", "0000:16:00.0", "0000:15:01.0"),
        Dev("0000:17:01.0", DeviceKind.Bridge, 0, "pcieport", "0000:16:00.0", "0000:15:01.0"),
        Dev("0000:18:00.0", DeviceKind.Gpu, 0, "nvidia", "0000:17:00.0", "0000:16:00.0", "0000:15:01.0"),
        Dev("0000:19:00.0", DeviceKind.Nic, 0, "mlx5_core", "0000:17:01.0", "0000:16:00.0", "0000:15:01.0"),
        Dev("0000:21:00.0", DeviceKind.Nic, 0, "mlx5_core", "0000:20:01.0"),
        Dev("0000:91:00.0", DeviceKind.Nic, 1, "mlx5_core", "0000:90:01.0"),
    ]);

    [Fact]
    public void A_gpu_pairs_first_with_the_nic_under_its_own_switch()
    {
        GpuAffinity a = Assert.Single(GpuAffinity.Compute(SwitchPair));

        Assert.Equal([PciAddress.Parse("0000:19:00.0")], a.NicsSameSwitch);
        Assert.Equal([PciAddress.Parse("0000:21:00.0")], a.NicsSameNumaNode);
        Assert.Empty(a.NicsSameRootPort);
        Assert.Equal(PciAddress.Parse("0000:19:00.0"), a.BestNic);
    }

    [Fact]
    public void Devices_directly_under_one_root_port_share_the_root_port_not_a_switch()
    {
        HostTopology t = Topology(
        [
            Dev("0000:40:00.0", DeviceKind.Gpu, 0, "nvidia", "0000:3f:01.0"),
            Dev("0000:40:00.1", DeviceKind.Nic, 0, "mlx5_core", "0000:3f:01.0"),
        ]);

        GpuAffinity a = Assert.Single(GpuAffinity.Compute(t));

        Assert.Empty(a.NicsSameSwitch);
        Assert.Equal([PciAddress.Parse("0000:40:00.1")], a.NicsSameRootPort);
    }

    [Fact]
    public void A_gpu_of_unknown_numa_node_has_no_node_neighbours()
    {
        HostTopology t = Topology([Dev("0000:01:00.0", DeviceKind.Gpu, null, "nvidia", "0000:00:01.0"), Dev("0000:05:00.0", DeviceKind.Nic, null, "igb", "0000:00:1c.0")]);

        GpuAffinity a = Assert.Single(GpuAffinity.Compute(t));

        Assert.Null(a.BestNic);
    }

    /// <summary>A workstation without ACS: GPU, its audio function and the host's NIC share group 1 with the root ports.</summary>
    private static readonly HostTopology NoAcsWorkstation = Topology(
        [
            Dev("0000:00:01.0", DeviceKind.Bridge, null, "pcieport"),
            Dev("0000:00:01.1", DeviceKind.Bridge, null, "pcieport"),
            Dev("0000:01:00.0", DeviceKind.Gpu, null, "nvidia", "0000:00:01.0"),
            Dev("0000:01:00.1", DeviceKind.GpuAudio, null, "snd_hda_intel", "0000:00:01.0"),
            Dev("0000:02:00.0", DeviceKind.Nic, null, "igb", "0000:00:01.1"),
            Dev("0000:03:00.0", DeviceKind.Nvme, null, "nvme", "0000:00:1d.0"),
        ],
        [
            new IommuGroup(1, [.. new[] { "0000:00:01.0", "0000:00:01.1", "0000:01:00.0", "0000:01:00.1", "0000:02:00.0" }.Select(PciAddress.Parse)]),
            new IommuGroup(3, [PciAddress.Parse("0000:03:00.0")]),
        ],
        [new NetDevice("enp2s0", NetDeviceKind.Ethernet, PciAddress.Parse("0000:02:00.0"))]) with
    {
        HostNeeded = new Dictionary<PciAddress, string> { [PciAddress.Parse("0000:02:00.0")] = "the management NIC (enp2s0 carries the default route)" },
    };

    [Fact]
    public void A_group_without_acs_names_the_companions_the_bridges_and_the_host_nic()
    {
        IommuGroupReport g = IommuGroupReport.Analyze(NoAcsWorkstation)[0];

        Assert.False(g.IsIsolated);
        Assert.True(g.HasBridges);
        Assert.Equal(3, g.Endpoints.Count);
        Assert.Equal([PciAddress.Parse("0000:02:00.0")], g.HostNeeded);
    }

    [Fact]
    public void A_nic_that_merely_has_an_interface_and_an_nvme_that_is_not_the_boot_disk_are_not_host_needed()
    {
        HostTopology t = NoAcsWorkstation with
        {
            HostNeeded = new Dictionary<PciAddress, string>(),
            NetDevices = [new NetDevice("enp2s0", NetDeviceKind.Ethernet, PciAddress.Parse("0000:02:00.0")), new NetDevice("ibp1s0", NetDeviceKind.IpOverInfiniBand, PciAddress.Parse("0000:01:00.1"))],
        };

        Assert.All(IommuGroupReport.Analyze(t), g => Assert.Empty(g.HostNeeded));
    }

    [Fact]
    public void A_gpu_must_take_its_audio_function_and_the_nic_to_vfio()
    {
        IReadOnlyList<PciAddress> companions = IommuGroupReport.CompanionsOf(NoAcsWorkstation with
        {
            PciDevices = [.. NoAcsWorkstation.PciDevices.Select(d => d with { IommuGroup = d.Address.Bus == 3 ? 3 : 1 })],
        }, PciAddress.Parse("0000:01:00.0"));

        Assert.Equal([PciAddress.Parse("0000:01:00.1"), PciAddress.Parse("0000:02:00.0")], companions);
    }

    [Fact]
    public void A_device_alone_in_its_group_is_isolated()
    {
        IommuGroupReport g = IommuGroupReport.Analyze(NoAcsWorkstation)[1];

        Assert.True(g.IsIsolated);
        Assert.False(g.HasBridges);
    }

    [Theory]
    [InlineData(DeviceKind.Nic, 16.0, 32.0, 16, 16, null, null, true)]     // slower than both ends support
    [InlineData(DeviceKind.Nic, 32.0, 32.0, 8, 16, null, null, true)]      // a lost lane
    [InlineData(DeviceKind.Nic, 32.0, 32.0, 16, 16, null, null, false)]
    [InlineData(DeviceKind.Nic, null, 32.0, null, 16, null, null, false)]  // nothing to compare
    [InlineData(DeviceKind.Nic, 16.0, 32.0, 16, 16, 16.0, 16, false)]      // a Gen5 card in a Gen4 slot
    [InlineData(DeviceKind.Nic, 32.0, 32.0, 8, 16, 32.0, 8, false)]        // an x16 card in an x8 slot
    [InlineData(DeviceKind.Gpu, 2.5, 32.0, 16, 16, 32.0, 16, false)]       // an idle GPU saving power
    [InlineData(DeviceKind.Gpu, 32.0, 32.0, 8, 16, 32.0, 16, true)]        // a GPU that lost lanes
    public void A_link_is_degraded_by_a_lost_lane_or_a_speed_drop_that_is_not_power_saving(
        DeviceKind kind, double? speed, double? maxSpeed, int? width, int? maxWidth, double? portSpeed, int? portWidth, bool degraded)
    {
        var device = new PciDevice
        {
            Address = PciAddress.Parse("0000:41:00.0"), VendorId = 0x10de, DeviceId = 0x2330, ClassCode = 0x030200, Kind = kind,
            Link = new PcieLink(speed, maxSpeed, width, maxWidth) { PortMaxSpeedGts = portSpeed, PortMaxWidth = portWidth },
        };

        Assert.Equal(degraded, device.IsLinkDegraded);
    }

    [Fact]
    public void A_root_port_does_not_judge_the_link_below_it_which_its_device_judges()
    {
        var rootPort = new PciDevice
        {
            Address = PciAddress.Parse("0000:00:01.1"), VendorId = 0x8086, DeviceId = 0x1901, ClassCode = 0x060400, Kind = DeviceKind.Bridge,
            Link = new PcieLink(2.5, 8.0, 1, 4),
        };
        var switchUpstream = rootPort with { UpstreamBridges = [PciAddress.Parse("0000:00:01.0")] };

        Assert.False(rootPort.IsLinkDegraded);
        Assert.True(switchUpstream.IsLinkDegraded);
    }
}
