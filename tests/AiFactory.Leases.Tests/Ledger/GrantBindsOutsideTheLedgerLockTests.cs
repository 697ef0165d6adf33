using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Leases.Tests.Planning;
using ModelLease = AiFactory.Host.Model.Leases.Lease;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>
/// Binding a lease's devices can block in the kernel (a vfio-pci bind is a chain of sysfs writes): the plan is
/// reserved in the ledger first, the devices are bound outside its lock, and the grant is committed after. Meanwhile
/// the ledger answers, other grants plan around the reservation, and a crash leaves a record start-up reports.
/// </summary>
public sealed class GrantBindsOutsideTheLedgerLockTests
{
    private const ulong GiB = 1UL << 30;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    /// <summary>A binder whose first bind, like a blocked sysfs write, waits until the test lets it go.</summary>
    private sealed class BlockingBinder : ILeaseDeviceBinder
    {
        private int _binds;

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public Exception? FailFirst { get; init; }

        public List<string> Unbound { get; } = [];

        public string Description => "blocking";

        public void Bind(ModelLease lease)
        {
            if (Interlocked.Increment(ref _binds) == 1)
            {
                Entered.Set();
                Release.Wait(Generous);
                if (FailFirst is { } fail)
                {
                    throw fail;
                }
            }
        }

        public void Unbind(ModelLease lease)
        {
            lock (Unbound)
            {
                Unbound.Add(lease.Id);
            }
        }
    }

    private static CreateLeaseRequest Gpus(uint count) => new()
    {
        Spec = new LeaseSpec { Owner = "t", GpuCount = count, Vcpus = 2, MemoryBytes = 4 * GiB },
    };

    private static HashSet<string> Addresses(Wire.Lease lease) => [.. lease.Devices.Select(d => d.Address)];

    [Fact]
    public async Task While_a_grant_binds_others_list_read_and_lease_other_devices_and_cannot_take_the_reserved_ones()
    {
        var binder = new BlockingBinder();
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: binder);
        Task<Wire.Lease> first = Task.Run(() => host.Service.Lease(Gpus(1)));
        Assert.True(binder.Entered.Wait(Generous), "the first grant never reached its bind");

        // On another thread, bounded: if the bind held the ledger's lock, these calls would wait for it.
        Task<(Wire.Lease, Wire.Lease, Wire.Lease, RpcException, RpcException)> probe = Task.Run(() =>
        {
            Wire.Lease pending = Assert.Single(host.Service.ListLeases(new ListLeasesRequest()).Leases);
            Wire.Lease read = host.Service.GetLease(new GetLeaseRequest { Id = pending.Id });
            Wire.Lease second = host.Service.Lease(Gpus(1));
            RpcException all = Assert.Throws<RpcException>(() => host.Service.Lease(Gpus(7)));
            RpcException release = Assert.Throws<RpcException>(() => host.Service.Release(new ReleaseLeaseRequest { Id = pending.Id }));
            return (pending, read, second, all, release);
        });
        bool answered = await Task.WhenAny(probe, Task.Delay(Generous)) == probe;
        binder.Release.Set();
        Wire.Lease granted = await first.WaitAsync(Generous);

        Assert.True(answered, "the ledger stayed locked while the first grant's devices were being bound");
        (Wire.Lease pending, Wire.Lease read, Wire.Lease second, RpcException all, RpcException release) = await probe;
        Assert.Equal(Wire.LeaseState.Granting, pending.State);
        Assert.Equal(Wire.LeaseState.Granting, read.State);
        Assert.Equal(Wire.LeaseState.Active, second.State);
        Assert.Empty(Addresses(second).Intersect(Addresses(pending)));
        Assert.Equal(StatusCode.ResourceExhausted, all.StatusCode);
        Assert.Equal(StatusCode.FailedPrecondition, release.StatusCode);
        Assert.Equal($"id: lease \"{pending.Id}\" is still being granted (its devices are being bound)", release.Detail);
        Assert.Equal(pending.Id, granted.Id);
        Assert.Equal(Wire.LeaseState.Active, granted.State);
        Assert.Equal(Addresses(pending), Addresses(granted));
        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = granted.Id }).State);
    }

    [Fact]
    public void A_failed_bind_drops_the_reservation_so_the_same_devices_can_be_leased_again()
    {
        var binder = new BlockingBinder { FailFirst = new RpcException(StatusCode.FailedPrecondition, "gpus: binding 0000:18:00.0 to vfio-pci failed (busy); nothing was reserved") };
        binder.Release.Set();
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: binder);

        RpcException failed = Assert.Throws<RpcException>(() => host.Service.Lease(Gpus(8)));
        Wire.Lease all = host.Service.Lease(Gpus(8));

        Assert.Equal(StatusCode.FailedPrecondition, failed.StatusCode);
        Assert.Equal("gpus: binding 0000:18:00.0 to vfio-pci failed (busy); nothing was reserved", failed.Detail);
        Assert.Equal(8, all.Devices.Count(d => d.Role == LeasedDeviceRole.Gpu));
        Assert.Equal([all.Id], host.Service.ListLeases(new ListLeasesRequest { IncludeEnded = true }).Leases.Select(l => l.Id));
        Assert.Empty(binder.Unbound); // the binder restored what it bound; the ledger asks for nothing more

        using LeaseTestHost restarted = host.Restart();
        Assert.Equal([all.Id], restarted.Service.ListLeases(new ListLeasesRequest { IncludeEnded = true }).Leases.Select(l => l.Id));
    }

    [Fact]
    public async Task A_crash_while_binding_leaves_a_granting_lease_that_start_up_reports_and_that_still_holds_until_released()
    {
        var binder = new BlockingBinder();
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: binder);
        Task<Wire.Lease> first = Task.Run(() => host.Service.Lease(Gpus(2)));
        Assert.True(binder.Entered.Wait(Generous), "the grant never reached its bind");

        // What a crash at this moment leaves on disk: the ledger's files as they are now.
        string crashed = Path.Combine(Path.GetTempPath(), "aifactory-leases-crash-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(crashed);
        foreach (string file in Directory.GetFiles(host.Directory))
        {
            File.Copy(file, Path.Combine(crashed, Path.GetFileName(file)));
        }

        binder.Release.Set();
        Wire.Lease lease = await first.WaitAsync(Generous);
        PciAddress bound = PciAddress.Parse(lease.Devices[0].Address);

        // The first device reached vfio-pci before the crash; the second did not.
        HostTopology machine = Topologies.DgxH100 with
        {
            PciDevices = [.. Topologies.DgxH100.PciDevices.Select(d => d.Address == bound ? d with { Driver = "vfio-pci" } : d)],
        };
        using var later = new LeaseTestHost(machine, null, crashed, host.Time);
        int found = LeaseRegistration.Reconcile(later.Ledger, later.Host, later.Events, later.Logger, devicesBound: true);

        Assert.Equal(1, found);
        string drift = Assert.Single(later.Events.Recent(), e => e.Kind == "lease.drift").Message;
        Assert.Equal(
            $"the agent stopped while granting this lease, so it was never answered (on vfio-pci: {bound}; not: {lease.Devices[1].Address}); " +
            "it keeps holding its resources until released, and releasing it gives back what was bound",
            drift);
        Assert.Equal(Wire.LeaseState.Granting, later.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        Assert.Equal(StatusCode.ResourceExhausted, Assert.Throws<RpcException>(() => later.Service.Lease(Gpus(7))).StatusCode);
        RpcException attach = Assert.Throws<RpcException>(() => later.Service.AttachLease(new AttachLeaseRequest { Id = lease.Id, DomainName = "vm" }));
        Assert.Equal(StatusCode.FailedPrecondition, attach.StatusCode);
        Assert.Contains("was being granted when the agent stopped", attach.Detail, StringComparison.Ordinal);

        Assert.Equal(Wire.LeaseState.Released, later.Service.Release(new ReleaseLeaseRequest { Id = lease.Id }).State);
        Assert.Contains("unbind " + lease.Id, later.Binder.Calls);
        Assert.Equal(8, later.Service.Lease(Gpus(8)).Devices.Count(d => d.Role == LeasedDeviceRole.Gpu));
    }

    [Fact]
    public void A_grant_with_nothing_to_bind_is_recorded_active_in_one_step()
    {
        var binder = new DeferredDeviceBinder("read-only");
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: binder);

        Wire.Lease lease = host.Service.Lease(Gpus(1));

        Assert.Equal(Wire.LeaseState.Active, lease.State);
        Assert.Equal(Wire.LeaseState.Active, Assert.Single(host.Service.ListLeases(new ListLeasesRequest()).Leases).State);
    }
}
