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

    [Theory]
    [InlineData(1536UL << 20, "1536M")]
    [InlineData(512UL << 20, "512M")]
    [InlineData(4UL << 30, "4G")]
    [InlineData((1UL << 30) + 4096, "1048580K")]
    [InlineData(2UL << 40, "2T")]
    public void Memory_is_shown_exactly_in_the_largest_unit_that_divides_it(ulong bytes, string shown)
    {
        var response = new ListLeasesResponse();
        response.Leases.Add(Holding("lease-0123456789ab", "tenant-a", bytes));
        var text = new StringWriter();

        LeaseCommand.WriteList(response, text);

        string[] cells = text.ToString().Split('\n')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(shown, cells[^2]);
    }

    [Fact]
    public void A_long_owner_and_a_mig_profile_keep_every_column_aligned_with_its_header()
    {
        var response = new ListLeasesResponse();
        response.Leases.Add(Holding("lease-0123456789ab", "vm-with-a-rather-long-owner-name", 1UL << 30));
        Lease mig = Holding("lease-ba9876543210", "x", 1UL << 30);
        mig.Mig = new LeaseMigPlacement { Profile = "1g.10gb+me", Gpu = "0000:18:00.0" };
        response.Leases.Add(mig);
        var text = new StringWriter();

        LeaseCommand.WriteList(response, text);

        string[] lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (string column in new[] { "STATE", "GPUS", "NODES" })
        {
            int at = lines[0].IndexOf(column, StringComparison.Ordinal);
            Assert.All(lines.Skip(1), line => Assert.Equal(' ', line[at - 1]));
            Assert.All(lines.Skip(1), line => Assert.NotEqual(' ', line[at]));
        }
    }

    private static Lease Holding(string id, string owner, ulong memoryBytes) => new()
    {
        Id = id, Owner = owner, State = LeaseState.Active,
        Nodes = { new LeaseNode { Node = 0, VcpuCpus = { 1, 2 }, MemoryBytes = memoryBytes } },
    };
}
