using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Leases.Tests.Planning;
using ModelLease = AiFactory.Host.Model.Leases.Lease;
using ModelLeaseState = AiFactory.Host.Model.Leases.LeaseState;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>
/// Giving devices back can block in the kernel (a vfio-pci unbind waits for whoever holds the device): the ledger goes
/// on answering meanwhile, and the lease keeps holding its devices until the release is stored.
/// </summary>
public sealed class ReleaseUnbindsOutsideTheLedgerLockTests
{
    private const ulong GiB = 1UL << 30;

    /// <summary>A binder whose unbind, like a blocked sysfs write, waits while a probe uses the service from another thread.</summary>
    private sealed class BlockingBinder : ILeaseDeviceBinder
    {
        public Func<object?>? Probe { get; set; }

        public object? Seen { get; private set; }

        public bool ProbeFinished { get; private set; }

        public string Description => "blocking";

        public void Bind(ModelLease lease)
        {
        }

        public void Unbind(ModelLease lease)
        {
            if (Probe is { } probe)
            {
                // Generous: the probe is instant unless the ledger lock is held by this very call.
                Task<object?> other = Task.Run(probe);
                ProbeFinished = other.Wait(TimeSpan.FromSeconds(60));
                Seen = ProbeFinished ? other.Result : null;
            }
        }
    }

    private static CreateLeaseRequest Gpus(uint count) => new()
    {
        Spec = new LeaseSpec { Owner = "t", GpuCount = count, Vcpus = 2, MemoryBytes = 4 * GiB },
    };

    [Fact]
    public void While_a_release_unbinds_others_can_list_and_the_devices_stay_held()
    {
        var binder = new BlockingBinder();
        using var host = new LeaseTestHost(Topologies.DgxH100, binder: binder);
        Wire.Lease lease = host.Service.Lease(Gpus(1));
        binder.Probe = () =>
        {
            int listed = host.Service.ListLeases(new ListLeasesRequest()).Leases.Count;
            RpcException all = Assert.Throws<RpcException>(() => host.Service.Lease(Gpus(8)));
            RpcException again = Assert.Throws<RpcException>(() => host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id }));
            return (listed, all.StatusCode, again.Detail);
        };

        host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id });

        Assert.True(binder.ProbeFinished, "the ledger stayed locked while the devices were being given back");
        Assert.Equal((1, StatusCode.ResourceExhausted, $"id: lease \"{lease.Id}\" is being released already"), binder.Seen);
        Assert.Equal(Wire.LeaseState.Released, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
    }

    [Fact]
    public void When_giving_the_devices_back_fails_the_lease_still_holds_and_can_be_released_again()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        Wire.Lease lease = host.Service.Lease(Gpus(1));

        Assert.Throws<InvalidOperationException>(() => host.Ledger.End(lease.Id, ModelLeaseState.Released, l => throw new InvalidOperationException($"giving back {l.Id} failed")));

        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        Assert.Equal(Wire.LeaseState.Released, host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id }).State);
    }
}
