using AiFactory.Cli.Lease;
using AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary><c>aifactoryctl lease show --all</c>'s table.</summary>
public sealed class LeaseListTableTests
{
    [Fact]
    public void A_mig_lease_shows_its_profile_under_gpus()
    {
        var response = new ListLeasesResponse();
        response.Leases.Add(new Lease
        {
            Id = "lease-0123456789ab", Owner = "tenant-a", State = LeaseState.Active,
            Mig = new LeaseMigPlacement { Profile = "1g.10gb", Gpu = "0000:18:00.0" },
            Nodes = { new LeaseNode { Node = 0, VcpuCpus = { 1, 2 }, MemoryBytes = 1UL << 30 } },
        });
        var text = new StringWriter();

        LeaseCommand.WriteList(response, text);

        string row = text.ToString().Split('\n')[1];
        Assert.Contains(" mig 1g.10gb ", row, StringComparison.Ordinal);
    }
}
