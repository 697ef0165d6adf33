using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>
/// A VF whose IOMMU group holds other devices takes them to vfio-pci with it, as a GPU takes its audio function:
/// the lease holds them as IOMMU companions, a VF whose group the host needs is never leased (and a refusal names
/// the group), and a companion another lease holds is not leased twice.
/// </summary>
public sealed class LeasePlannerVfCompanionTests
{
    private static readonly PciAddress Vf0 = PciAddress.Parse("0000:98:00.2");
    private static readonly PciAddress Vf1 = PciAddress.Parse("0000:98:00.3");
    private static readonly PciAddress Extra = PciAddress.Parse("0000:99:00.0");

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
}
