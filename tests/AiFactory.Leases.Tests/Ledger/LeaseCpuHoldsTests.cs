using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Profile;
using AiFactory.Leases.Tests.Planning;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>The CPUs leases pin are part of what the node profile plans around (its host-reserved set never takes one).</summary>
public sealed class LeaseCpuHoldsTests
{
    [Fact]
    public void The_ledger_holds_name_every_cpu_a_lease_keeps_and_free_them_on_release()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        var request = new CreateLeaseRequest
        {
            Spec = new LeaseSpec { Owner = "tenant", Vcpus = 8, MemoryBytes = 4UL << 30, EmulatorThreads = EmulatorThreadPolicy.Isolate },
        };

        Lease lease = host.Service.Lease(request);
        CpuSet claimed = host.Ledger.List(includeEnded: false).Single().Lease.Plan.ClaimedCpus;
        LeaseHolds holds = host.Ledger.HeldResources();

        Assert.True(claimed.Count >= 8, $"claimed {claimed}");
        Assert.Equal([.. claimed.Order()], [.. holds.Cpus.Keys.Order()]);
        Assert.All(holds.Cpus.Values, id => Assert.Equal(lease.Id, id));

        host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id });
        Assert.Empty(host.Ledger.HeldResources().Cpus);
    }

    [Fact]
    public void A_lease_whose_emulator_threads_share_the_reserved_cpus_is_named_as_sharing_them_and_an_isolated_one_is_not()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        CpuSet reserved = host.Host.HostReservedCpus;

        Lease shared = host.Service.Lease(new CreateLeaseRequest { Spec = new LeaseSpec { Owner = "tenant", Vcpus = 4, MemoryBytes = 4UL << 30, EmulatorThreads = EmulatorThreadPolicy.Share } });
        Lease isolated = host.Service.Lease(new CreateLeaseRequest { Spec = new LeaseSpec { Owner = "tenant", Vcpus = 4, MemoryBytes = 4UL << 30, EmulatorThreads = EmulatorThreadPolicy.Isolate } });
        LeaseHolds holds = host.Ledger.HeldResources();

        Assert.False(reserved.IsEmpty);
        Assert.Equal(reserved, Assert.Single(holds.SharingReserved, kv => kv.Key == shared.Id).Value);
        Assert.DoesNotContain(isolated.Id, holds.SharingReserved.Keys);

        host.Service.Release(new ReleaseLeaseRequest { Id = shared.Id });
        Assert.Empty(host.Ledger.HeldResources().SharingReserved);
    }
}
