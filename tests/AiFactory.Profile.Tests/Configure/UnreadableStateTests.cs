using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Planning.Profile;
using AiFactory.Profile.Tests.Kernel;

namespace AiFactory.Profile.Tests.Configure;

/// <summary>
/// Current values that cannot be read on a fixture tree: the entry that depends on one is refused naming the file
/// (never planned from a 0 that was not read, whose rollback would write 0 over a real pool); the others still plan.
/// </summary>
public sealed class UnreadableStateTests : IDisposable
{
    private const string Node1Pages = "devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages";
    private static readonly PciAddress Pf = PciAddress.Parse("0000:01:00.0");
    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly FakeSystemctl _systemctl = new();

    public void Dispose()
    {
        _fs.Dispose();
        _systemctl.Dispose();
    }

    private static NodeProfile Lab() => new()
    {
        Vfio = new VfioProfile([DeviceSelector.TryParse("0000:03:00.0", out DeviceSelector? nvme, out _) ? nvme : throw new InvalidOperationException()], []),
        Sriov = [new SriovProfile(Pf, 2, false, "vfio-pci")],
        Hugepages = [new HugepageProfile(0, 2048, 64), new HugepageProfile(1, 2048, 100)],
    };

    private ProfilePlan Plan(NodeProfile profile)
    {
        var reader = new ProfileStateReader(new SysfsTree(_fs.Root), new Systemctl(_systemctl.Executable));
        return ProfilePlanner.Plan(reader.ReadTopology(), reader.ReadState(profile), profile);
    }

    /// <summary>Puts a directory where the file was: read(2) fails with EISDIR, as an unreadable attribute would (tests run as root, so a mode does not stop a read).</summary>
    private void MakeUnreadable(string relative)
    {
        File.Delete(_fs.P(relative));
        Directory.CreateDirectory(_fs.P(relative));
    }

    [Fact]
    public void An_unreadable_nr_hugepages_refuses_that_pool_and_the_rest_still_plans()
    {
        _fs.Write(Node1Pages, "640");
        MakeUnreadable(Node1Pages);

        ProfilePlan plan = Plan(Lab() with { Vfio = null, Sriov = [] });

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("hugepages[1].count", error.Field);
        Assert.Contains($"{Node1Pages} cannot be read (errno 21 (", error.Reason);
    }

    [Fact]
    public void A_pool_size_that_is_not_a_number_is_not_taken_for_zero()
    {
        _fs.Write(Node1Pages, "many");

        ProfilePlan plan = Plan(new NodeProfile { Hugepages = [new HugepageProfile(1, 2048, 100)] });

        Assert.Contains($"{Node1Pages} cannot be read (not a number: \"many\")", Assert.Single(plan.Errors).Reason);
        Assert.Empty(plan.Steps);
    }

    [Fact]
    public void The_other_entries_plan_when_their_values_read()
    {
        _fs.Write(Node1Pages, "many");

        ProfilePlan plan = Plan(new NodeProfile { Hugepages = [new HugepageProfile(0, 2048, 64)] });

        Assert.True(plan.IsValid, string.Join("; ", plan.Errors));
        Assert.Equal(new SetHugepagesStep(0, 2048, 0, 64) { Field = "hugepages[0].count" }, Assert.Single(plan.Steps));
    }

    [Fact]
    public void An_unreadable_sriov_numvfs_refuses_the_pf_and_the_vfio_section_still_plans()
    {
        MakeUnreadable($"bus/pci/devices/{Pf}/sriov_numvfs");

        ProfilePlan plan = Plan(Lab() with { Hugepages = [] });

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("sriov[0]", error.Field);
        Assert.Contains($"bus/pci/devices/{Pf}/sriov_numvfs cannot be read (errno 21 (", error.Reason);
    }

    [Fact]
    public void A_missing_sriov_numvfs_beside_sriov_totalvfs_refuses_the_pf()
    {
        File.Delete(_fs.P($"bus/pci/devices/{Pf}/sriov_numvfs"));

        ProfilePlan plan = Plan(new NodeProfile { Sriov = [new SriovProfile(Pf, 2, null, null)] });

        Assert.Contains($"bus/pci/devices/{Pf}/sriov_numvfs cannot be read (missing)", Assert.Single(plan.Errors).Reason);
    }

    [Fact]
    public void An_unreadable_driver_override_refuses_binding_that_device()
    {
        MakeUnreadable("bus/pci/devices/0000:03:00.0/driver_override");

        ProfilePlan plan = Plan(Lab() with { Sriov = [], Hugepages = [] });

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("vfio.devices[0]", error.Field);
        Assert.Contains("bus/pci/devices/0000:03:00.0/driver_override cannot be read", error.Reason);
    }

    [Fact]
    public void A_missing_meminfo_refuses_hugepages_on_that_node()
    {
        File.Delete(_fs.P("devices/system/node/node1/meminfo"));

        ProfilePlan plan = Plan(new NodeProfile { Hugepages = [new HugepageProfile(0, 2048, 64), new HugepageProfile(1, 1048576, 5000)] });

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("hugepages[1].count", error.Field);
        Assert.Contains("node 1's memory is unknown (devices/system/node/node1/meminfo cannot be read (missing))", error.Reason);
    }

    [Fact]
    public void An_allowed_cpus_answer_that_does_not_parse_refuses_that_unit()
    {
        File.WriteAllText(Path.Join(_systemctl.Dir, "state", "user.slice.cpus"), "zz\n");

        ProfilePlan plan = Plan(new NodeProfile { Cpus = new CpuProfile(CpuSet.Parse("0-1"), CpuProfile.DefaultUnits) });

        ProfileValidationError error = Assert.Single(plan.Errors);
        Assert.Equal("cpus.reserved", error.Field);
        Assert.Contains("user.slice: systemctl show -p AllowedCPUs user.slice cannot be read (\"zz\"", error.Reason);
    }

    [Fact]
    public void A_pool_the_kernel_kept_larger_is_not_reported_as_short_by_a_negative_number()
    {
        var ex = new HugepageShortfallException(Node1Pages, 10, 1096, 1);

        Assert.DoesNotContain("short by -", ex.Message);
        Assert.Contains("asked 10, the kernel kept 1096 (1086 more than asked", ex.Message);
        Assert.Contains("short by 60", new HugepageShortfallException(Node1Pages, 100, 40, 3).Message);
    }
}
