using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Profile;

namespace AiFactory.Profile.Tests.Planning;

public class ProfilePlannerTests
{
    private static DeviceSelector Sel(string text) => DeviceSelector.TryParse(text, out DeviceSelector? s, out string? e) ? s : throw new ArgumentException(e);

    private static NodeProfile Vfio(params string[] devices) => new() { Vfio = new VfioProfile([.. devices.Select(Sel)], []) };

    [Fact]
    public void Binding_a_gpu_takes_its_audio_companion_along_and_checks_the_group()
    {
        ProfilePlan plan = ProfilePlanner.Plan(Topologies.WorkstationGpuWithAudio, ProfileCurrentState.Empty, Vfio("0000:01:00.0"));

        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.IsType<LoadModuleStep>(plan.Steps[0]);
        var binds = plan.Steps.OfType<BindVfioStep>().ToList();
        Assert.Equal(["0000:01:00.0", "0000:01:00.1"], binds.Select(b => b.Address.ToString()));
        Assert.Equal(PciAddress.Parse("0000:01:00.0"), binds[1].CompanionOf);
        Assert.Equal("snd_hda_intel", binds[1].FromDriver);
        Assert.Equal(2, Assert.Single(plan.Steps.OfType<CheckVfioGroupStep>()).Group);
        Assert.IsType<CheckVfioGroupStep>(plan.Steps[^1]);
    }

    [Fact]
    public void The_nvidia_gpus_selector_picks_all_eight_gpus_of_a_dgx_and_nothing_else()
    {
        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, new ProfileCurrentState { VfioPciLoaded = true }, Vfio("nvidia-gpus"));

        Assert.Equal(8, plan.Steps.OfType<BindVfioStep>().Count());
        Assert.All(plan.Steps.OfType<BindVfioStep>(), b => Assert.Equal("nvidia", b.FromDriver));
        Assert.DoesNotContain(plan.Steps, s => s is LoadModuleStep);
    }

    [Fact]
    public void A_group_that_holds_a_host_device_is_refused_with_the_group_listed()
    {
        HostTopology t = Topologies.WorkstationGpuWithAudio;
        var profile = new NodeProfile { Vfio = new VfioProfile([Sel("0000:01:00.0")], [Sel("0000:01:00.1")]) };

        ProfilePlan plan = ProfilePlanner.Plan(t, ProfileCurrentState.Empty, profile);

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("vfio.devices[0]", error.Field);
        Assert.Contains("IOMMU group 2 (0000:01:00.0, 0000:01:00.1)", error.Reason);
        Assert.Contains("the host needs", error.Reason);
        Assert.Empty(plan.Steps);
    }

    [Fact]
    public void A_group_that_holds_a_bridge_is_refused()
    {
        HostTopology t = Topologies.WorkstationGpuWithAudio with
        {
            PciDevices = [.. Topologies.WorkstationGpuWithAudio.PciDevices.Select(d => d.Address.ToString() == "0000:00:01.0" ? d with { IommuGroup = 2 } : d)],
        };

        ProfilePlan plan = ProfilePlanner.Plan(t, ProfileCurrentState.Empty, Vfio("0000:01:00.0"));

        Assert.Contains("0000:00:01.0, a PCI bridge", Assert.Single(plan.Errors).Reason);
    }

    [Fact]
    public void A_device_that_matches_nothing_is_an_error_naming_the_field()
    {
        ProfilePlan plan = ProfilePlanner.Plan(Topologies.WorkstationGpuWithAudio, ProfileCurrentState.Empty, Vfio("0000:01:00.0", "10de:2330"));

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("vfio.devices[1]", error.Field);
        Assert.Contains("matches no device", error.Reason);
        Assert.Empty(plan.Steps);
    }

    [Fact]
    public void A_pf_listed_for_vfio_and_for_vfs_is_refused()
    {
        var profile = new NodeProfile
        {
            Vfio = new VfioProfile([Sel("0000:17:00.0")], []),
            Sriov = [new SriovProfile(PciAddress.Parse("0000:17:00.0"), 4, null, null)],
        };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ProfileCurrentState.Empty, profile);

        Assert.Contains(plan.Errors, e => e.Field == "vfio.devices[0]" && e.Reason.Contains("sriov[0]", StringComparison.Ordinal));
    }

    [Fact]
    public void Vfs_beyond_sriov_totalvfs_are_refused()
    {
        var profile = new NodeProfile { Sriov = [new SriovProfile(PciAddress.Parse("0000:17:00.0"), 17, false, "vfio-pci")] };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ProfileCurrentState.Empty, profile);

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("sriov[0].numVfs", error.Field);
        Assert.Contains("sriov_totalvfs 16", error.Reason);
    }

    [Fact]
    public void Vfs_are_planned_autoprobe_first_then_count_then_vfio_binding()
    {
        var profile = new NodeProfile { Sriov = [new SriovProfile(PciAddress.Parse("0000:17:00.0"), 4, false, "vfio-pci")] };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ProfileCurrentState.Empty, profile);

        Assert.Collection(plan.Steps,
            s => Assert.IsType<LoadModuleStep>(s),
            s => Assert.Equal(new SetSriovAutoprobeStep(PciAddress.Parse("0000:17:00.0"), true, false) { Field = "sriov[0].driversAutoprobe" }, s),
            s => Assert.Equal(4, Assert.IsType<SetNumVfsStep>(s).To),
            s => Assert.IsType<BindVfsVfioStep>(s));
    }

    [Fact]
    public void Hugepages_beyond_a_nodes_memory_are_refused()
    {
        var profile = new NodeProfile { Hugepages = [new HugepageProfile(1, 1048576, 600), new HugepageProfile(1, 2048, 300_000)] };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ProfileCurrentState.Empty, profile);

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("hugepages[1].count", error.Field);
        Assert.Contains("exceed node 1's memory for hugepages: MemTotal 1024 GiB, less 51.2 GiB kept for the host (the larger of 5% and 1 GiB, at most 10%), less 600 GiB in its other pools", error.Reason);
    }

    [Fact]
    public void Hugepages_on_a_missing_node_or_size_are_refused()
    {
        var profile = new NodeProfile { Hugepages = [new HugepageProfile(5, 2048, 1), new HugepageProfile(0, 32768, 1)] };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ProfileCurrentState.Empty, profile);

        Assert.Equal(["hugepages[0].node", "hugepages[1].size"], plan.Errors.Select(e => e.Field));
    }

    [Fact]
    public void Reserving_every_cpu_is_refused()
    {
        var profile = new NodeProfile { Cpus = new CpuProfile(CpuSet.Parse("0-15"), CpuProfile.DefaultUnits) };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.WorkstationGpuWithAudio, ProfileCurrentState.Empty, profile);

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("cpus.reserved", error.Field);
        Assert.Contains("none would be left for leases", error.Reason);
    }

    [Fact]
    public void Reserved_cpus_that_are_isolated_give_a_warning_and_one_step_per_unit()
    {
        var profile = new NodeProfile { Cpus = new CpuProfile(CpuSet.Parse("0-9,112-119"), CpuProfile.DefaultUnits) };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, ProfileCurrentState.Empty, profile);

        Assert.Contains(plan.Warnings, w => w.Contains("8-9 also in isolcpus", StringComparison.Ordinal));
        Assert.Equal(["system.slice", "user.slice", "init.scope"], plan.Steps.OfType<SetAllowedCpusStep>().Select(s => s.Unit));
    }

    [Fact]
    public void A_profile_that_holds_plans_no_steps()
    {
        HostTopology t = Topologies.WorkstationGpuWithAudio with
        {
            PciDevices = [.. Topologies.WorkstationGpuWithAudio.PciDevices.Select(d => d.IommuGroup == 2 ? d with { Driver = "vfio-pci", DriverOverride = "vfio-pci" } : d)],
        };
        var state = new ProfileCurrentState
        {
            VfioPciLoaded = true,
            AllowedCpus = new Dictionary<string, CpuSet> { ["system.slice"] = CpuSet.Parse("0-1"), ["user.slice"] = CpuSet.Parse("0-1"), ["init.scope"] = CpuSet.Parse("0-1") },
        };
        var profile = Vfio("0000:01:00.0") with { Cpus = new CpuProfile(CpuSet.Parse("0-1"), CpuProfile.DefaultUnits) };

        ProfilePlan plan = ProfilePlanner.Plan(t, state, profile);

        Assert.True(plan.IsNoOp);
    }

    [Fact]
    public void A_service_holding_a_device_this_host_lacks_is_named_in_a_warning_and_the_others_plan_as_before()
    {
        var profile = Vfio("nvidia-gpus") with
        {
            Services = [new ServiceProfile("nvidia-persistenced.service", [Sel("nvidia-gpus"), Sel("0000:ee:00.0")])],
        };
        var state = new ProfileCurrentState { VfioPciLoaded = true, ActiveUnits = new HashSet<string> { "nvidia-persistenced.service" } };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, profile);

        Assert.Empty(plan.Errors);
        Assert.Contains("services[0].holds[1]: \"0000:ee:00.0\" matches no device on this host: nvidia-persistenced.service is never stopped for it", plan.Warnings);
        Assert.DoesNotContain(plan.Warnings, w => w.StartsWith("services[0].holds[0]", StringComparison.Ordinal));
        Assert.Equal("nvidia-persistenced.service", Assert.IsType<StopServiceStep>(plan.Steps[0]).Unit);
    }

    [Fact]
    public void An_active_service_holding_a_changed_device_is_stopped_first_and_started_last()
    {
        var profile = Vfio("nvidia-gpus") with
        {
            Services = [new ServiceProfile("nvidia-persistenced.service", [Sel("nvidia-gpus")]), new ServiceProfile("dcgm.service", [Sel("15b3:1021")])],
        };
        var state = new ProfileCurrentState { VfioPciLoaded = true, ActiveUnits = new HashSet<string> { "nvidia-persistenced.service", "dcgm.service" } };

        ProfilePlan plan = ProfilePlanner.Plan(Topologies.Dgx8GpuTwoNuma, state, profile);

        Assert.Equal("nvidia-persistenced.service", Assert.IsType<StopServiceStep>(plan.Steps[0]).Unit);
        Assert.Equal("nvidia-persistenced.service", Assert.IsType<StartServiceStep>(plan.Steps[^1]).Unit);
        Assert.DoesNotContain(plan.Steps, s => s is StopServiceStep { Unit: "dcgm.service" });
    }
}
