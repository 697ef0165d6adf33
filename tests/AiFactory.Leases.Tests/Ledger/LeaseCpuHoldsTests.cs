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
}
