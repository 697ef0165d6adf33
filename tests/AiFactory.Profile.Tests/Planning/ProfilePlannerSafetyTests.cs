using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Profile;

namespace AiFactory.Profile.Tests.Planning;

/// <summary>
/// What the planner refuses so that an apply cannot hurt the host: hugepages past a node's memory (overflow
/// included) or on a node of unknown memory, bridges and PFs with live VFs as vfio targets, VFs whose PF is remade,
/// busy GPUs, whatever leases hold, and values that could not be read.
/// </summary>
public class ProfilePlannerSafetyTests
{
    private static readonly PciAddress Pf = PciAddress.Parse("0000:17:00.0");
    private static readonly PciAddress Vf0 = PciAddress.Parse("0000:17:00.2");
    private static readonly PciAddress Vf1 = PciAddress.Parse("0000:17:00.3");
    private static readonly PciAddress Gpu = PciAddress.Parse("0000:18:00.0");
    private const long OneG = 1048576;

    /// <summary>The DGX with two live VFs on the NIC 0000:17:00.0 (each in its own IOMMU group, on mlx5_core).</summary>
    private static readonly HostTopology DgxWithTwoVfs = Topologies.Dgx8GpuTwoNuma with
    {
        PciDevices =
        [
            .. Topologies.Dgx8GpuTwoNuma.PciDevices.Select(d => d.Address == Pf ? d with { Sriov = new SriovInfo(16, 2, true, [Vf0, Vf1]) } : d),
            Topologies.Dev("0000:17:00.2", 0x15b3, 0x101e, 0x020000, "mlx5_core", 70, DeviceKind.Nic) with { PhysicalFunction = Pf },
            Topologies.Dev("0000:17:00.3", 0x15b3, 0x101e, 0x020000, "mlx5_core", 71, DeviceKind.Nic) with { PhysicalFunction = Pf },
        ],
    };

    /// <summary>The DGX with 100 x 1G pages already reserved on node 0.</summary>
    private static readonly HostTopology DgxWith100GigPagesOnNode0 = Topologies.Dgx8GpuTwoNuma with
    {
        NumaNodes = [.. Topologies.Dgx8GpuTwoNuma.NumaNodes.Select(n => n.Id == 0 ? n with { Hugepages = [new HugepagePool(2048, 0, 0, 0), new HugepagePool(OneG, 100, 100, 0)] } : n)],
    };

    private static DeviceSelector Sel(string text) => DeviceSelector.TryParse(text, out DeviceSelector? s, out string? e) ? s : throw new ArgumentException(e);

    private static NodeProfile Vfio(params string[] devices) => new() { Vfio = new VfioProfile([.. devices.Select(Sel)], []) };

    private static NodeProfile Pages(params HugepageProfile[] pools) => new() { Hugepages = pools };

    // Hugepages (audit finding 1).

    [Theory]
    [InlineData(2048L, 9007199254740992L)]
    [InlineData(OneG, long.MaxValue)]
    public void A_hugepage_count_whose_bytes_overflow_is_refused_not_wrapped(long size, long count)
    {
        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ProfileCurrentState.Empty, Pages(new HugepageProfile(0, size, count)));

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("hugepages[0].count", error.Field);
        Assert.Contains("exceed node 0's memory for hugepages: MemTotal 1024 GiB", error.Reason);
        Assert.Empty(plan.Steps);
    }

    [Fact]
    public void A_node_keeps_five_percent_for_the_host()
    {
        ProfilePlan fits = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ProfileCurrentState.Empty, Pages(new HugepageProfile(0, OneG, 972)));
        ProfilePlan over = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ProfileCurrentState.Empty, Pages(new HugepageProfile(0, OneG, 973)));

        Assert.True(fits.IsValid, string.Join("; ", fits.Errors));
        Assert.Contains("less 51.2 GiB kept for the host", Assert.Single(over.Errors).Reason);
        Assert.Contains("at most 972 pages", over.Errors[0].Reason);
    }

    [Fact]
    public void Hugepages_on_a_node_whose_memory_is_unknown_are_refused_naming_the_file()
    {
        HostTopology t = Topologies.Dgx8GpuTwoNuma with { NumaNodes = [.. Topologies.Dgx8GpuTwoNuma.NumaNodes.Select(n => n.Id == 1 ? n with { MemoryTotalBytes = 0 } : n)] };
        var state = new ProfileCurrentState { Unreadable = [new UnreadableValue("devices/system/node/node1/meminfo", "missing") { Node = 1 }] };

        ProfilePlan plan = ProfilePlanner.Plan(t, state, Pages(new HugepageProfile(0, 2048, 16), new HugepageProfile(1, OneG, 5000)));

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("hugepages[1].count", error.Field);
        Assert.Contains("node 1's memory is unknown (devices/system/node/node1/meminfo cannot be read (missing))", error.Reason);
    }

    [Fact]
    public void A_pool_that_shrinks_goes_first_so_the_memory_it_gives_back_counts_for_one_that_grows()
    {
        // 450000 x 2M is 878.9 GiB: beside the 1G pool's 100 GiB it would pass the node's 972.8 GiB, beside 10 GiB it fits.
        NodeProfile profile = Pages(new HugepageProfile(0, 2048, 450_000), new HugepageProfile(0, OneG, 10));

        ProfilePlan plan = ProfilePlanner.Plan(DgxWith100GigPagesOnNode0, ProfileCurrentState.Empty, profile);

        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.Collection(plan.Steps,
            s => Assert.Equal(new SetHugepagesStep(0, OneG, 100, 10) { Field = "hugepages[1].count" }, s),
            s => Assert.Equal(new SetHugepagesStep(0, 2048, 0, 450_000) { Field = "hugepages[0].count" }, s));
    }

    // vfio targets (audit finding 5).

    [Fact]
    public void A_root_port_is_never_a_vfio_target()
    {
        ProfilePlan plan = ProfilePlanner.Plan(Topologies.WorkstationGpuWithAudio, ProfileCurrentState.Empty, Vfio("0000:00:01.0"));

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("vfio.devices[0]", error.Field);
        Assert.Contains("0000:00:01.0 is a PCI bridge (a root port or PCIe switch port) (class 0x060400, driver pcieport)", error.Reason);
    }

    [Fact]
    public void A_host_bridge_is_never_a_vfio_target()
    {
        HostTopology t = Topologies.WorkstationGpuWithAudio with
        {
            PciDevices = [Topologies.Dev("0000:00:00.0", 0x8086, 0x3e30, 0x060000, null, 0, DeviceKind.Bridge), .. Topologies.WorkstationGpuWithAudio.PciDevices],
        };

        ProfilePlan plan = ProfilePlanner.Plan(t, ProfileCurrentState.Empty, Vfio("0000:00:00.0"));

        Assert.Contains("0000:00:00.0 is a host bridge (class 0x060000)", Assert.Single(plan.Errors).Reason);
    }

    [Fact]
    public void A_pf_with_live_vfs_is_not_bound_to_vfio()
    {
        ProfilePlan plan = ProfilePlanner.Plan(DgxWithTwoVfs, ProfileCurrentState.Empty, Vfio("0000:17:00.0"));

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Contains("0000:17:00.0 is an SR-IOV PF with 2 live VFs (sriov_numvfs 2)", error.Reason);
        Assert.Empty(plan.Steps);
    }

    [Fact]
    public void A_vf_whose_pf_gets_a_new_vf_count_in_the_same_profile_is_refused()
    {
        NodeProfile profile = Vfio("0000:17:00.2") with { Sriov = [new SriovProfile(Pf, 4, null, null)] };

        ProfilePlan plan = ProfilePlanner.Plan(DgxWithTwoVfs, ProfileCurrentState.Empty, profile);

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("vfio.devices[0]", error.Field);
        Assert.Contains("0000:17:00.2 is a VF of 0000:17:00.0, whose VF count sriov[0].numVfs changes (2 -> 4)", error.Reason);
    }

    [Fact]
    public void A_vf_whose_pf_keeps_its_vf_count_is_bound()
    {
        NodeProfile profile = Vfio("0000:17:00.2") with { Sriov = [new SriovProfile(Pf, 2, null, null)] };

        ProfilePlan plan = ProfilePlanner.Plan(DgxWithTwoVfs, new ProfileCurrentState { VfioPciLoaded = true }, profile);

        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.Equal(Vf0, Assert.Single(plan.Steps.OfType<BindVfioStep>()).Address);
    }

    [Fact]
    public void A_gpu_running_compute_processes_is_not_unbound()
    {
        var state = new ProfileCurrentState { GpuProcesses = new Dictionary<PciAddress, IReadOnlyList<string>> { [Gpu] = ["PID 4242 (python3)"] } };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, Vfio("nvidia-gpus"));

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("vfio.devices[0]", error.Field);
        Assert.Contains("0000:18:00.0 is in use by PID 4242 (python3): stop them before it is unbound from nvidia", error.Reason);
    }

    [Fact]
    public void Without_nvml_the_plan_says_it_could_not_check_the_gpus_for_processes()
    {
        var state = new ProfileCurrentState { GpuProcessesUnavailable = "NVML is not available (libnvidia-ml.so.1 not found)" };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.WorkstationGpuWithAudio, state, Vfio("0000:01:00.0"));

        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.Contains("vfio: could not check 0000:01:00.0 for running processes before unbinding it: NVML is not available (libnvidia-ml.so.1 not found)", plan.Warnings);
    }

    // Lease holds (audit finding 7).

    [Fact]
    public void The_vf_count_of_a_pf_whose_vfs_are_leased_does_not_change()
    {
        var state = new ProfileCurrentState { Leases = new LeaseHolds { Devices = new Dictionary<PciAddress, string> { [Vf1] = "lease-0123456789ab" } } };

        ProfilePlan plan = ProfilePlanner.Plan(DgxWithTwoVfs, state, new NodeProfile { Sriov = [new SriovProfile(Pf, 0, null, null)] });

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("sriov[0].numVfs", error.Field);
        Assert.Contains("leases hold 0000:17:00.3 (lease lease-0123456789ab)", error.Reason);
        Assert.Empty(plan.Steps);
    }

    [Fact]
    public void While_the_leases_are_unknown_no_vf_count_changes()
    {
        var state = new ProfileCurrentState { Leases = new LeaseHolds { Unavailable = "the lease ledger is open in a running aifactory-agent" } };

        ProfilePlan plan = ProfilePlanner.Plan(DgxWithTwoVfs, state, new NodeProfile { Sriov = [new SriovProfile(Pf, 4, null, null)] });

        Assert.Contains("what leases hold is unknown (the lease ledger is open in a running aifactory-agent)", Assert.Single(plan.Errors).Reason);
    }

    [Fact]
    public void A_leased_device_is_not_bound_again()
    {
        var state = new ProfileCurrentState { Leases = new LeaseHolds { Devices = new Dictionary<PciAddress, string> { [Gpu] = "lease-aaaaaaaaaaaa" } } };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, Vfio("0000:18:00.0"));

        Assert.Contains("0000:18:00.0 is held by lease lease-aaaaaaaaaaaa", Assert.Single(plan.Errors).Reason);
    }

    [Fact]
    public void A_pool_does_not_shrink_below_the_pages_leases_hold_and_names_them()
    {
        var state = new ProfileCurrentState
        {
            Leases = new LeaseHolds { Hugepages = [new HugepageHold(0, OneG, 48, "lease-aaaaaaaaaaaa"), new HugepageHold(0, OneG, 16, "lease-bbbbbbbbbbbb"), new HugepageHold(1, OneG, 99, "lease-cccccccccccc")] },
        };

        ProfilePlan below = ProfilePlanner.Plan(DgxWith100GigPagesOnNode0, state, Pages(new HugepageProfile(0, OneG, 63)));
        ProfilePlan down = ProfilePlanner.Plan(DgxWith100GigPagesOnNode0, state, Pages(new HugepageProfile(0, OneG, 64)));

        ProfileValidationError error = Assert.Single(below.Errors);
        Assert.Equal("hugepages[0].count", error.Field);
        Assert.Contains("63 pages is below the 64 that leases hold in node 0's 1048576kB pool (lease-aaaaaaaaaaaa 48, lease-bbbbbbbbbbbb 16)", error.Reason);
        Assert.Equal(new SetHugepagesStep(0, OneG, 100, 64) { Field = "hugepages[0].count" }, Assert.Single(down.Steps));
    }

    [Fact]
    public void The_host_reserved_cpus_never_take_a_cpu_a_lease_has_pinned_and_name_the_lease()
    {
        var state = new ProfileCurrentState
        {
            Leases = new LeaseHolds { Cpus = new Dictionary<int, string> { [10] = "lease-aaaaaaaaaaaa", [11] = "lease-aaaaaaaaaaaa", [40] = "lease-bbbbbbbbbbbb" } },
        };

        ProfilePlan onLease = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, new NodeProfile { Cpus = new CpuProfile(CpuSet.Parse("0-11"), CpuProfile.DefaultUnits) });
        ProfilePlan beside = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, new NodeProfile { Cpus = new CpuProfile(CpuSet.Parse("0-9"), CpuProfile.DefaultUnits) });

        ProfileValidationError error = Assert.Single(onLease.Errors);
        Assert.Equal("cpus.reserved", error.Field);
        Assert.Contains("10-11 pinned by lease(s) lease-aaaaaaaaaaaa", error.Reason);
        Assert.Empty(onLease.Steps);
        Assert.Empty(beside.Errors);
        Assert.NotEmpty(beside.Steps);
    }

    [Fact]
    public void A_change_of_the_host_reserved_cpus_is_refused_while_what_leases_hold_is_unknown()
    {
        var state = new ProfileCurrentState { Leases = new LeaseHolds { Unavailable = "the lease ledger is open in a running aifactory-agent" } };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, new NodeProfile { Cpus = new CpuProfile(CpuSet.Parse("0-9"), CpuProfile.DefaultUnits) });

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("cpus.reserved", error.Field);
        Assert.Contains("what leases hold is unknown (the lease ledger is open in a running aifactory-agent)", error.Reason);
    }

    [Fact]
    public void A_refusal_because_what_leases_hold_is_unknown_says_so_and_one_naming_a_lease_does_not()
    {
        var unknown = new ProfileCurrentState { Leases = new LeaseHolds { Unavailable = "the lease ledger is open in a running aifactory-agent" } };
        var leased = new ProfileCurrentState
        {
            Leases = new LeaseHolds
            {
                Devices = new Dictionary<PciAddress, string> { [Gpu] = "lease-aaaaaaaaaaaa", [Vf1] = "lease-bbbbbbbbbbbb" },
                Hugepages = [new HugepageHold(0, OneG, 64, "lease-cccccccccccc")],
                Cpus = new Dictionary<int, string> { [9] = "lease-dddddddddddd" },
            },
        };
        var cpus = new NodeProfile { Cpus = new CpuProfile(CpuSet.Parse("0-9"), CpuProfile.DefaultUnits) };

        ProfileValidationError[] whenUnknown =
        [
            Assert.Single(ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, unknown, Vfio("0000:18:00.0")).Errors),
            Assert.Single(ProfilePlanner.Plan(DgxWithTwoVfs, unknown, new NodeProfile { Sriov = [new SriovProfile(Pf, 4, null, null)] }).Errors),
            Assert.Single(ProfilePlanner.Plan(DgxWith100GigPagesOnNode0, unknown, Pages(new HugepageProfile(0, OneG, 63))).Errors),
            Assert.Single(ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, unknown, cpus).Errors),
        ];
        ProfileValidationError[] whenLeased =
        [
            Assert.Single(ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, leased, Vfio("0000:18:00.0")).Errors),
            Assert.Single(ProfilePlanner.Plan(DgxWithTwoVfs, leased, new NodeProfile { Sriov = [new SriovProfile(Pf, 0, null, null)] }).Errors),
            Assert.Single(ProfilePlanner.Plan(DgxWith100GigPagesOnNode0, leased, Pages(new HugepageProfile(0, OneG, 63))).Errors),
            Assert.Single(ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, leased, cpus).Errors),
        ];

        Assert.All(whenUnknown, e => Assert.True(e.HoldsUnknown, e.ToString()));
        Assert.All(whenLeased, e => Assert.False(e.HoldsUnknown, e.ToString()));
    }

    [Fact]
    public void The_mig_section_is_refused_while_the_instances_leases_hold_are_unknown_saying_so()
    {
        var mig = new NodeProfile { Mig = new MigSection([new MigGpuProfile(new MigGpuSelector(0, null), true, [new MigLayoutItem("7g.80gb", null)], null)], new Dictionary<string, IReadOnlyList<MigPartedLayout>>(), null) };
        var heldUnknown = new ProfileCurrentState { MigHoldsUnavailable = "the lease ledger /s/leases.journal is open in a running aifactory-agent" };
        var noNvml = heldUnknown with { MigUnavailable = "libnvidia-ml.so.1 not found" };

        ProfileValidationError unknown = Assert.Single(ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, heldUnknown, mig).Errors);
        ProfileValidationError unreadable = Assert.Single(ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, noNvml, mig).Errors);

        Assert.Equal(("mig", true), (unknown.Field, unknown.HoldsUnknown));
        Assert.Equal("no layout can be planned around the GPU instances leases hold, as what they hold is unknown: the lease ledger /s/leases.journal is open in a running aifactory-agent", unknown.Reason);
        Assert.Equal(("mig", false, "MIG state cannot be read: libnvidia-ml.so.1 not found"), (unreadable.Field, unreadable.HoldsUnknown, unreadable.Reason));
    }

    // Values that could not be read (audit finding 8).

    [Fact]
    public void An_unreadable_pool_size_refuses_that_pool_and_plans_the_others()
    {
        var state = new ProfileCurrentState
        {
            Unreadable = [new UnreadableValue("devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages", "errno 5 (Input/output error)") { Node = 1, PageSizeKiB = 2048 }],
        };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, Pages(new HugepageProfile(0, 2048, 64), new HugepageProfile(1, 2048, 64)));

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("hugepages[1].count", error.Field);
        Assert.Contains("devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages cannot be read (errno 5 (Input/output error))", error.Reason);
    }

    [Fact]
    public void An_unreadable_sriov_numvfs_refuses_that_pf()
    {
        var state = new ProfileCurrentState { Unreadable = [new UnreadableValue("bus/pci/devices/0000:17:00.0/sriov_numvfs", "not a number: \"x\"") { Device = Pf }] };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, new NodeProfile { Sriov = [new SriovProfile(Pf, 4, null, null)] });

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("sriov[0]", error.Field);
        Assert.Contains("bus/pci/devices/0000:17:00.0/sriov_numvfs cannot be read (not a number: \"x\")", error.Reason);
    }
}
