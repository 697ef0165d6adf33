using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Libvirt;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>
/// A lease whose domain runs keeps its devices: Release (and expiry) asks libvirt first, and only <c>force</c> gives the
/// devices back under the guest.
/// </summary>
public sealed class ReleaseAttachedLeaseTests
{
    private const ulong MiB = 1UL << 20;

    private static string DomainXml(string name) =>
        $"<domain type='test'><name>{name}</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices/></domain>";

    private static Wire.Lease Lease(LeaseTestHost host, long ttlSeconds = 0) =>
        host.Service.Lease(new CreateLeaseRequest
        {
            Spec = new LeaseSpec { Owner = "vm", GpuCount = 1, Vcpus = 2, MemoryBytes = 512 * MiB, PageSize = LeasePageSize._2M, TtlSeconds = ttlSeconds },
        });

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private static void Attach(LeaseTestHost host, Wire.Lease lease, string name, bool start) =>
        host.Service.AttachLease(new AttachLeaseRequest { Id = lease.Id, DomainXml = DomainXml(name), LibvirtUri = TestDriverHost.Uri, Start = start });

    [Fact]
    public void Releasing_a_lease_whose_domain_runs_is_refused_naming_the_domain_and_nothing_is_unbound()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string name = Unique("busy");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        Attach(host, lease, name, start: true);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id }));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal(
            $"id: lease {lease.Id} is attached to domain \"{name}\", which is running on {TestDriverHost.Uri}: its devices would go back to their host drivers under the guest; " +
            "shut the domain down first, or release with force (aifactoryctl lease release --force)",
            ex.Detail);
        Assert.DoesNotContain("unbind " + lease.Id, host.Binder.Calls);
        Assert.Equal(Wire.LeaseState.Attached, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        using ILibvirtDomain domain = connection.Lookup(name)!;
        domain.Destroy();
        domain.Undefine();
    }

    [Fact]
    public void Force_releases_a_lease_whose_domain_runs_and_says_so_in_the_event()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string name = Unique("forced");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        Attach(host, lease, name, start: true);

        Wire.Lease released = host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id, Force = true });

        Assert.Equal(Wire.LeaseState.Released, released.State);
        Assert.Contains("unbind " + lease.Id, host.Binder.Calls);
        Event e = host.Events.Recent().Last(e => e.Kind == "lease.released");
        Assert.Equal(EventSeverity.Warning, e.Severity);
        Assert.EndsWith($"released with force while domain {name} was running", e.Message, StringComparison.Ordinal);
        using ILibvirtDomain domain = connection.Lookup(name)!;
        domain.Destroy();
        domain.Undefine();
    }

    [Fact]
    public void A_lease_whose_domain_is_shut_down_is_released()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string name = Unique("stopped");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        Attach(host, lease, name, start: true);
        using ILibvirtDomain domain = connection.Lookup(name)!;
        domain.Destroy();

        Wire.Lease released = host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id });

        Assert.Equal(Wire.LeaseState.Released, released.State);
        Assert.Equal(TestDriverHost.Uri, released.LibvirtUri);
        Assert.Contains("unbind " + lease.Id, host.Binder.Calls);
        // The stopped domain no longer names the lease's devices or pins: starting it later takes nothing of a lease.
        using ILibvirtDomain after = connection.Lookup(name)!;
        string xml = after.GetXml(inactive: true);
        Assert.DoesNotContain("<hostdev", xml, StringComparison.Ordinal);
        Assert.DoesNotContain("vcpupin", xml, StringComparison.Ordinal);
        Assert.DoesNotContain("<numatune", xml, StringComparison.Ordinal);
        Assert.DoesNotContain("<hugepages", xml, StringComparison.Ordinal);
        domain.Undefine();
    }

    [Fact]
    public void A_due_lease_whose_domain_runs_waits_and_says_so_once_then_expires_when_the_domain_stops()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host, ttlSeconds: 60);
        string name = Unique("due");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        Attach(host, lease, name, start: true);
        host.Time.Now = host.Time.Now.AddSeconds(61);

        host.Service.ExpireDue();
        host.Service.ExpireDue();

        Assert.Equal(Wire.LeaseState.Attached, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        Assert.Single(host.Events.Recent(), e => e.Kind == "lease.expiry_deferred" && e.Subject == lease.Id);
        Assert.DoesNotContain("unbind " + lease.Id, host.Binder.Calls);
        using ILibvirtDomain domain = connection.Lookup(name)!;
        domain.Destroy();

        host.Service.ExpireDue();

        Assert.Equal(Wire.LeaseState.Expired, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        domain.Undefine();
    }
}
