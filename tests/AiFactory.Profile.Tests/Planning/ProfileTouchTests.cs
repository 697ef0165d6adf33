using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using GpuPlacement = AiFactory.Host.Model.Gpu.MigPlacement;

namespace AiFactory.Profile.Tests.Planning;

/// <summary>What a profile plan changes (<see cref="ProfileTouch"/>) against what a lease would hold.</summary>
public sealed class ProfileTouchTests
{
    private static readonly PciAddress Pf = PciAddress.Parse("0000:01:00.0");
    private static readonly PciAddress NewVf = PciAddress.Parse("0000:01:00.1");
    private static readonly PciAddress Nvme = PciAddress.Parse("0000:03:00.0");
    private static readonly PciAddress Gpu = PciAddress.Parse("0000:18:00.0");

    [Fact]
    public void A_VF_made_by_the_apply_is_touched_through_its_PF()
    {
        ProfileTouch touch = ProfileTouch.Of([new SetNumVfsStep(Pf, 0, 4) { Field = "sriov[0].numVfs" }], topology: null);

        string? conflict = touch.Conflict(Lease(devices: [NewVf]), a => a == NewVf ? Pf : null);

        Assert.Equal("0000:01:00.1 (a VF of 0000:01:00.0)", conflict);
    }

    [Fact]
    public void A_device_the_apply_binds_and_one_it_leaves_alone()
    {
        ProfileTouch touch = ProfileTouch.Of([new BindVfioStep(Nvme, "nvme", null, null) { Field = "vfio.devices[0]" }], topology: null);

        Assert.Equal("0000:03:00.0", touch.Conflict(Lease(devices: [Nvme])));
        Assert.Null(touch.Conflict(Lease(devices: [PciAddress.Parse("0000:81:00.0")])));
    }

    [Fact]
    public void Hugepages_conflict_only_in_the_pool_the_apply_resizes()
    {
        ProfileTouch touch = ProfileTouch.Of([new SetHugepagesStep(1, 2048, 0, 32) { Field = "hugepages[0]" }], topology: null);

        Assert.Equal("node 1's 2048kB hugepages", touch.Conflict(Lease(node: 1, pages: PageSize.Huge2M)));
        Assert.Null(touch.Conflict(Lease(node: 1, pages: PageSize.Huge1G)));
        Assert.Null(touch.Conflict(Lease(node: 0, pages: PageSize.Huge2M)));
    }

    [Fact]
    public void CPUs_the_apply_reserves_for_the_host_and_the_MIG_layout_it_changes()
    {
        ProfileTouch touch = ProfileTouch.Of(
            [
                new SetAllowedCpusStep("system.slice", "", "0-1") { Field = "cpus.reserved" },
                new CreateMigInstanceStep(Gpu, 0, "1g.10gb", new GpuPlacement(6, 1)) { Field = "mig.gpus[0]" },
            ],
            topology: null);

        Assert.Equal("CPUs 1 (reserved for the host by it)", touch.Conflict(Lease(cpus: [1, 2])));
        Assert.Null(touch.Conflict(Lease(cpus: [2, 3])));
        Assert.Equal("the MIG layout of 0000:18:00.0", touch.Conflict(Lease(cpus: [2]) with { Mig = new MigPlacement(Gpu, "1g.10gb", 0, 1) }));
    }

    [Fact]
    public void Resetting_the_host_cpus_holds_back_a_lease_whose_emulator_threads_would_share_them_only()
    {
        ProfileTouch touch = ProfileTouch.Of([new SetAllowedCpusStep("system.slice", "0-1", "") { Field = "cpus" }], topology: null);

        Assert.False(touch.IsEmpty);
        Assert.Equal("the host-reserved CPUs the lease's emulator threads would share (0-1)", touch.Conflict(Lease(cpus: [2]) with { EmulatorCpus = CpuSet.Parse("0-1") }));
        Assert.Null(touch.Conflict(Lease(cpus: [2]) with { EmulatorCpus = CpuSet.Of(3), EmulatorIsolated = true }));
    }

    [Fact]
    public void A_plan_of_services_and_overrides_only_touches_nothing()
    {
        ProfileTouch touch = ProfileTouch.Of(
            [new StopServiceStep("nvidia-persistenced") { Field = "services[0]" }, new PersistVfioOverrideStep(Nvme, null, "vfio-pci") { Field = "vfio.devices[0]" }],
            topology: null);

        Assert.True(touch.IsEmpty);
        Assert.Null(touch.Conflict(Lease(devices: [Nvme], cpus: [0])));
    }

    private static LeasePlan Lease(IReadOnlyList<PciAddress>? devices = null, int node = 0, PageSize pages = PageSize.Small4K, int[]? cpus = null) => new()
    {
        Devices = [.. (devices ?? []).Select(d => new LeasedDevice(d, DeviceRole.VirtualFunction, null, null))],
        Nodes = [new NodeAllocation(node, cpus ?? [2], CpuSet.Empty, pages == PageSize.Small4K ? 0 : 8L << 20)],
        EmulatorCpus = CpuSet.Empty,
        PageSize = pages,
        FragmentationAfter = Fragmentation.Empty,
    };
}
