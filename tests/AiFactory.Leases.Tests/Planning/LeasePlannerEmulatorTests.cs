using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>Where QEMU's emulator threads run: the host's reserved set (share) or one whole dedicated core (isolate).</summary>
public sealed class LeasePlannerEmulatorTests
{
    private static LeaseRequest Request(EmulatorThreadPolicy emulator, int vcpus = 4, CpuThreadPolicy thread = CpuThreadPolicy.Prefer) => new()
    {
        Owner = "tenant-a",
        Gpus = new GpuRequest(1),
        Vcpus = vcpus,
        MemoryBytes = 4L << 30,
        ThreadPolicy = thread,
        EmulatorThreads = emulator,
    };

    [Fact]
    public void Share_pins_emulator_threads_to_the_reserved_set_only_never_to_cpus_another_lease_may_get()
    {
        CpuSet reserved = CpuSet.Parse("0,112");
        var context = new PlanningContext(Topologies.DgxH100, [], reserved);

        LeasePlan first = LeasePlanner.Plan(context, Request(EmulatorThreadPolicy.Share)).Plan!;
        LeasePlan second = LeasePlanner.Plan(context with { Current = [first] }, Request(EmulatorThreadPolicy.Share)).Plan!;

        Assert.Equal(reserved, first.EmulatorCpus);
        Assert.False(first.EmulatorCpus.Overlaps(second.ClaimedCpus));
        Assert.False(first.EmulatorIsolated);
    }

    [Fact]
    public void Share_on_a_host_without_reserved_cpus_is_refused_naming_emulator_threads_and_the_fix()
    {
        LeaseRefusal refusal = LeasePlanner.Plan(new PlanningContext(Topologies.DgxH100, [], CpuSet.Empty), Request(EmulatorThreadPolicy.Share)).Refusal!;

        Assert.Equal(RefusalKind.InvalidRequest, refusal.Kind);
        Assert.Equal("emulator_threads", refusal.Field);
        Assert.Contains("cpus.reserved in the node profile", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("isolate", refusal.Message, StringComparison.Ordinal);
        Assert.True(LeasePlanner.Plan(new PlanningContext(Topologies.DgxH100, [], CpuSet.Empty), Request(EmulatorThreadPolicy.Isolate)).Succeeded);
    }

    [Theory]
    [InlineData(CpuThreadPolicy.Prefer, 4)]
    [InlineData(CpuThreadPolicy.Prefer, 5)]
    [InlineData(CpuThreadPolicy.Isolate, 3)]
    [InlineData(CpuThreadPolicy.Require, 3)]
    public void Isolate_reserves_one_whole_physical_core_with_all_its_siblings(CpuThreadPolicy thread, int vcpus)
    {
        LeasePlan plan = LeasePlanner.Plan(new PlanningContext(Topologies.DgxH100, [], CpuSet.Empty), Request(EmulatorThreadPolicy.Isolate, vcpus, thread)).Plan!;

        Assert.Equal(2, plan.EmulatorCpus.Count);
        int first = plan.EmulatorCpus.First();
        Assert.Equal(Topologies.DgxH100.Cpus.Cpus.Single(c => c.Id == first).ThreadSiblings, plan.EmulatorCpus);
        Assert.True(plan.EmulatorCpus.IsSubsetOf(plan.ClaimedCpus));
        Assert.False(plan.EmulatorCpus.Overlaps(CpuSet.Of(plan.VcpuPins)));
        Assert.DoesNotContain(plan.Nodes, n => n.ReservedSiblings.Overlaps(plan.EmulatorCpus));
        Assert.True(plan.EmulatorIsolated);
    }
}
