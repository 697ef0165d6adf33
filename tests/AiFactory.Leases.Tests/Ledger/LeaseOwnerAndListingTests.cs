using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using Google.Protobuf;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>
/// An owner is a short printable name, and a listing comes in pages of bounded size, so that no ledger, however full,
/// makes ListLeases exceed the largest gRPC message.
/// </summary>
public sealed class LeaseOwnerAndListingTests
{
    private const ulong GiB = 1UL << 30;

    private static CreateLeaseRequest Ask(string owner) => new()
    {
        Spec = new LeaseSpec { Owner = owner, Vcpus = 1, MemoryBytes = GiB, PageSize = LeasePageSize._4K, EmulatorThreads = EmulatorThreadPolicy.Share },
    };

    [Fact]
    public void An_owner_longer_than_256_bytes_is_refused_naming_the_field()
    {
        using var host = new LeaseTestHost(Planning.Topologies.DgxH100);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.Lease(Ask(new string('a', 120_000))));
        Wire.Lease fits = host.Service.Lease(Ask(new string('é', 128)));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("spec.owner: is 120000 bytes long; at most 256", ex.Detail);
        Assert.Equal(new string('é', 128), fits.Owner);
    }

    [Theory]
    [InlineData("vm\na", "U+000A", 2)]
    [InlineData("vm\u001b[31m", "U+001B", 2)]
    [InlineData("\u202evm", "U+202E", 0)]
    public void An_owner_with_an_unprintable_character_is_refused_naming_it(string owner, string code, int offset)
    {
        using var host = new LeaseTestHost(Planning.Topologies.DgxH100);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.Lease(Ask(owner)));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal($"spec.owner: holds an unprintable character ({code}) at offset {offset}; only printable characters", ex.Detail);
        Assert.Empty(host.Service.ListLeases(new ListLeasesRequest { IncludeEnded = true }).Leases);
    }

    [Fact]
    public void A_listing_larger_than_a_page_comes_in_pages_that_together_hold_every_lease_once()
    {
        using var host = new LeaseTestHost(Planning.Topologies.DgxH100);
        host.Service.ListPageBytes = 8 * 1024;
        var granted = new List<string>();
        for (int i = 0; i < 40; i++)
        {
            granted.Add(host.Service.Lease(Ask($"tenant-{i:D3}-" + new string('x', 240))).Id);
        }

        int leaseBytes = host.Service.GetLease(new GetLeaseRequest { Id = granted[0] }).CalculateSize();
        var seen = new List<string>();
        var pages = new List<int>();
        string token = string.Empty;
        do
        {
            ListLeasesResponse page = host.Service.ListLeases(new ListLeasesRequest { PageToken = token });
            Assert.True(page.CalculateSize() <= host.Service.ListPageBytes, $"a page of {page.CalculateSize()} bytes");
            seen.AddRange(page.Leases.Select(l => l.Id));
            pages.Add(page.Leases.Count);
            token = page.NextPageToken;
        }
        while (token.Length > 0);

        Assert.Equal(granted.Order(StringComparer.Ordinal), seen.Order(StringComparer.Ordinal));
        Assert.True(pages.Count >= 40 * leaseBytes / (8 * 1024), $"{pages.Count} pages for 40 leases of {leaseBytes} bytes");
        Assert.All(pages, n => Assert.True(n > 0));
    }

    [Theory]
    [InlineData("lease-gone")]
    [InlineData("x/lease-1")]
    [InlineData("-5/lease-1")]
    [InlineData("/lease-1")]
    [InlineData("1763856000000/")]
    [InlineData("99999999999999999999/lease-1")]
    public void A_page_token_that_is_not_one_from_ListLeases_is_refused_naming_it(string token)
    {
        using var host = new LeaseTestHost(Planning.Topologies.DgxH100);
        host.Service.Lease(Ask("tenant-a"));

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.ListLeases(new ListLeasesRequest { PageToken = token }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal($"page_token: \"{token}\" is not a next_page_token from ListLeases (expected <created unix ms>/<lease id>); list again from the start", ex.Detail);
    }

    [Fact]
    public void A_page_token_whose_lease_was_released_since_continues_from_the_next_lease()
    {
        using var host = new LeaseTestHost(Planning.Topologies.DgxH100);
        for (int i = 0; i < 5; i++)
        {
            host.Service.Lease(Ask($"tenant-{i}"));
            host.Time.Now += TimeSpan.FromSeconds(1);
        }

        List<string> order = [.. host.Service.ListLeases(new ListLeasesRequest()).Leases.Select(l => l.Id)];
        host.Service.ListPageBytes = 1;
        ListLeasesResponse first = host.Service.ListLeases(new ListLeasesRequest());
        ListLeasesResponse second = host.Service.ListLeases(new ListLeasesRequest { PageToken = first.NextPageToken });
        host.Service.Release(new ReleaseLeaseRequest { Id = second.Leases[0].Id });
        host.Service.Release(new ReleaseLeaseRequest { Id = order[2] });

        ListLeasesResponse third = host.Service.ListLeases(new ListLeasesRequest { PageToken = second.NextPageToken });

        Assert.Equal(order[0], Assert.Single(first.Leases).Id);
        Assert.Equal(order[1], Assert.Single(second.Leases).Id);
        Assert.Equal(order[3], Assert.Single(third.Leases).Id);
        Assert.Equal(order[4], Assert.Single(host.Service.ListLeases(new ListLeasesRequest { PageToken = third.NextPageToken }).Leases).Id);
    }

    [Fact]
    public void A_page_token_stays_good_across_a_restart_for_leases_created_within_one_millisecond()
    {
        // The ledger stores creation times in milliseconds: the listing's order and its tokens use what it stores.
        using var host = new LeaseTestHost(Planning.Topologies.DgxH100);
        host.Service.Lease(Ask("tenant-a"));
        host.Time.Now += TimeSpan.FromTicks(3_000);
        host.Service.Lease(Ask("tenant-b"));
        host.Service.ListPageBytes = 1;
        ListLeasesResponse first = host.Service.ListLeases(new ListLeasesRequest());

        using var restarted = new LeaseTestHost(Planning.Topologies.DgxH100, null, host.Directory, host.Time);
        restarted.Service.ListPageBytes = 1;
        ListLeasesResponse second = restarted.Service.ListLeases(new ListLeasesRequest { PageToken = first.NextPageToken });

        Assert.Equal(
            host.Ledger.List(includeEnded: false).Select(e => e.Lease.Id).Order(StringComparer.Ordinal),
            new[] { Assert.Single(first.Leases).Id, Assert.Single(second.Leases).Id }.Order(StringComparer.Ordinal));
        Assert.Empty(second.NextPageToken);
    }
}
