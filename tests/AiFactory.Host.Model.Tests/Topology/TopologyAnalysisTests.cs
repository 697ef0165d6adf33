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

    [Fact]
    public void A_degraded_link_is_reported_by_speed_or_width()
    {
        Assert.True(new PcieLink(16, 32, 16, 16).IsDegraded);
        Assert.True(new PcieLink(32, 32, 8, 16).IsDegraded);
        Assert.False(new PcieLink(32, 32, 16, 16).IsDegraded);
        Assert.False(new PcieLink(null, 32, null, 16).IsDegraded);
    }
}
