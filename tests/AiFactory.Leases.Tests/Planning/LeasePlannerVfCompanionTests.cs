using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>
/// A VF whose IOMMU group holds other devices takes them to vfio-pci with it, as a GPU takes its audio function:
/// the lease holds them as IOMMU companions, a VF whose group the host needs is never leased (and a refusal names
/// the group), and a companion another lease holds is not leased twice. A group holding an SR-IOV PF with live VFs
/// (hardware without ACS) is never leased, a VF's or a GPU's: binding the PF to vfio-pci would destroy its VFs.
/// </summary>
public sealed class LeasePlannerVfCompanionTests
{
    private static readonly PciAddress Vf0 = PciAddress.Parse("0000:98:00.2");
    private static readonly PciAddress Vf1 = PciAddress.Parse("0000:98:00.3");
    private static readonly PciAddress Extra = PciAddress.Parse("0000:99:00.0");
    private static readonly PciAddress Pf = PciAddress.Parse("0000:98:00.0");

    private static LeaseRequest Vfs(int count, NumaPolicy numa = NumaPolicy.Required) => new()
    {
        Owner = "tenant-c",
        Vfs = new VfRequest(count, PairWithGpus: false),
        Vcpus = 2,
        MemoryBytes = 2L << 30,
        NumaPolicy = numa,
    };

    /// <summary>NicOnOtherSocket with VF 98:00.2's IOMMU group also holding <paramref name="members"/>.</summary>
    private static HostTopology GroupedWith(params PciAddress[] members)
    {
        HostTopology t = Topologies.NicOnOtherSocket;
        var extra = new PciDevice
        {
            Address = Extra, VendorId = 0x15b3, DeviceId = 0xc2d5, ClassCode = 0x088000, Kind = DeviceKind.Other, ModelName = "ConnectX management function",
            Driver = "mlx5_core", NumaNode = 1, UpstreamBridges = [PciAddress.Parse("0000:97:01.0")],
        };
        int group = t.PciDevices.Single(d => d.Address == Vf0).IommuGroup!.Value;
        var grouped = members.ToHashSet();
        return t with
        {
            PciDevices = [.. t.PciDevices.Select(d => grouped.Contains(d.Address) ? d with { IommuGroup = group } : d)
                .Concat(members.Contains(Extra) ? [extra with { IommuGroup = group }] : []).OrderBy(d => d.Address)],
            IommuGroups = [.. t.IommuGroups.Where(g => g.Id == group || !g.Members.Any(grouped.Contains))
                .Select(g => g.Id == group ? new IommuGroup(group, [Vf0, .. members]) : g)],
        };
    }

    private static PlanResult Plan(HostTopology topology, LeaseRequest request, params LeasePlan[] current) =>
        LeasePlanner.Plan(new PlanningContext(topology, current, LeaseTestHost.LastCores(topology)), request);

    [Fact]
    public void A_vf_is_leased_with_the_other_devices_of_its_iommu_group()
    {
        PlanResult result = Plan(GroupedWith(Extra), Vfs(1));

        Assert.True(result.Succeeded, result.Refusal?.ToString());
        Assert.Equal(
            [(Vf0, DeviceRole.VirtualFunction), (Extra, DeviceRole.IommuCompanion)],
            result.Plan!.Devices.Select(d => (d.Address, d.Role)));
        Assert.Equal(1, Assert.Single(result.Plan.Nodes).Node);
    }

    [Fact]
    public void A_vf_whose_iommu_group_the_host_needs_is_never_leased_and_a_shortage_names_the_group()
    {
        HostTopology topology = GroupedWith(Extra) with { HostNeeded = new Dictionary<PciAddress, string> { [Extra] = "the management NIC (enp153s0 carries the default route)" } };

        PlanResult one = Plan(topology, Vfs(1));
        PlanResult all = Plan(topology, Vfs(4, NumaPolicy.Preferred));

        Assert.True(one.Succeeded, one.Refusal?.ToString());
        Assert.Equal([Vf1], one.Plan!.Devices.Select(d => d.Address));
        Assert.Equal("vfs.count", all.Refusal?.Field);
        Assert.Equal(
            "4 asked, 3 free on the whole host; 1 never leased because the host needs a device of its IOMMU group " +
            "(0000:98:00.2: its IOMMU group also holds 0000:99:00.0, the management NIC (enp153s0 carries the default route))",
            all.Refusal!.Message);
    }

    [Fact]
    public void Two_vfs_of_one_iommu_group_go_to_one_lease_and_never_to_two()
    {
        HostTopology topology = GroupedWith(Vf1);
        PlanResult first = Plan(topology, Vfs(1));
        Assert.True(first.Succeeded, first.Refusal?.ToString());

        PlanResult second = Plan(topology, Vfs(2), first.Plan!);
        PlanResult third = Plan(topology, Vfs(3), first.Plan!);

        Assert.Equal([(Vf0, DeviceRole.VirtualFunction), (Vf1, DeviceRole.IommuCompanion)], first.Plan!.Devices.Select(d => (d.Address, d.Role)));
        Assert.True(second.Succeeded, second.Refusal?.ToString());
        Assert.Equal(["0000:98:00.4", "0000:98:00.5"], second.Plan!.Devices.Select(d => d.Address.ToString()));
        Assert.Equal("vfs.count", third.Refusal?.Field);
    }

    [Fact]
    public void A_vf_whose_iommu_group_holds_a_pf_with_live_vfs_is_never_leased_and_a_shortage_names_the_pf()
    {
        HostTopology topology = GroupedWith(Pf);
        Assert.Equal(4, topology.PciDevices.Single(d => d.Address == Pf).Sriov!.NumVfs);

        PlanResult one = Plan(topology, Vfs(1));
        PlanResult all = Plan(topology, Vfs(4, NumaPolicy.Preferred));

        Assert.True(one.Succeeded, one.Refusal?.ToString());
        Assert.Equal([Vf1], one.Plan!.Devices.Select(d => d.Address));
        Assert.Equal("vfs.count", all.Refusal?.Field);
        Assert.Equal(
            "4 asked, 3 free on the whole host; 1 never leased because its IOMMU group holds an SR-IOV PF with live VFs " +
            "(0000:98:00.2: its IOMMU group also holds 0000:98:00.0, an SR-IOV PF with 4 live VFs): binding the group to vfio-pci would destroy them",
            all.Refusal!.Message);
    }

    [Fact]
    public void On_the_dgx_h100_fixture_a_gpu_whose_iommu_group_holds_a_pf_with_live_vfs_is_skipped_and_a_shortage_names_the_pf()
    {
        // The fixture's ConnectX PF a1:00.0 has 2 live VFs; here it shares GPU 18:00.0's IOMMU group, as without ACS.
        HostTopology topology = WithPfInGroupOf(FixtureTopologies.Load("dgx-h100"), Gpu18, PfA1);
        Assert.Equal(2, topology.PciDevices.Single(d => d.Address == PfA1).Sriov!.NumVfs);
        Assert.Equal(8, topology.PciDevices.Count(d => d.Kind == DeviceKind.Gpu));

        PlanResult one = Plan(topology, Gpus(1));
        PlanResult all = Plan(topology, Gpus(8));

        Assert.True(one.Succeeded, one.Refusal?.ToString());
        Assert.DoesNotContain(one.Plan!.Devices, d => d.Address == Gpu18 || d.Address == PfA1);
        Assert.Equal("gpus.count", all.Refusal?.Field);
        Assert.Equal(RefusalKind.Insufficient, all.Refusal!.Kind);
        Assert.EndsWith(
            "; 1 never leased because its IOMMU group holds an SR-IOV PF with live VFs " +
            "(0000:18:00.0: its IOMMU group also holds 0000:a1:00.0, an SR-IOV PF with 2 live VFs): binding the group to vfio-pci would destroy them",
            all.Refusal.Message);
    }

    [Fact]
    public void On_the_dgx_h100_fixture_a_pf_without_live_vfs_in_a_gpus_iommu_group_goes_with_the_gpu()
    {
        HostTopology grouped = WithPfInGroupOf(FixtureTopologies.Load("dgx-h100"), Gpu18, PfA1);
        HostTopology topology = grouped with
        {
            PciDevices = [.. grouped.PciDevices.Select(d => d.Address == PfA1 ? d with { Sriov = d.Sriov! with { NumVfs = 0 } } : d)],
        };

        PlanResult four = Plan(topology, Gpus(4));

        Assert.True(four.Succeeded, four.Refusal?.ToString());
        Assert.Contains(four.Plan!.Devices, d => d.Address == Gpu18 && d.Role == DeviceRole.Gpu);
        Assert.Contains(four.Plan.Devices, d => d.Address == PfA1 && d.Role == DeviceRole.IommuCompanion);
    }

    private static readonly PciAddress Gpu18 = PciAddress.Parse("0000:18:00.0");
    private static readonly PciAddress PfA1 = PciAddress.Parse("0000:a1:00.0");

    private static LeaseRequest Gpus(int count) => new()
    {
        Owner = "tenant-g",
        Gpus = new GpuRequest(count),
        Vcpus = 2,
        MemoryBytes = 2L << 30,
    };

    /// <summary><paramref name="topology"/> with <paramref name="member"/> moved into <paramref name="device"/>'s IOMMU group.</summary>
    private static HostTopology WithPfInGroupOf(HostTopology topology, PciAddress device, PciAddress member)
    {
        int group = topology.PciDevices.Single(d => d.Address == device).IommuGroup!.Value;
        return topology with
        {
            PciDevices = [.. topology.PciDevices.Select(d => d.Address == member ? d with { IommuGroup = group } : d)],
            IommuGroups = [.. topology.IommuGroups
                .Select(g => g.Id == group ? new IommuGroup(group, [.. g.Members, member]) : new IommuGroup(g.Id, [.. g.Members.Where(m => m != member)]))
                .Where(g => g.Members.Count > 0)],
        };
    }
}
