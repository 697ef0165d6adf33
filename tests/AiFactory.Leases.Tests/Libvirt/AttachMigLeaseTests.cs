using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Libvirt;
using MigCapacity = AiFactory.Host.Model.Leases.MigCapacity;
using AiFactory.Host.Model.Pci;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>A MIG lease is never attached to a VM: libvirt would get a domain with no device for it.</summary>
public sealed class AttachMigLeaseTests
{
    [Fact]
    public void Attaching_a_mig_lease_is_refused_saying_why_and_nothing_is_defined()
    {
        var gpu = PciAddress.Parse("0000:18:00.0");
        using var host = new LeaseTestHost(TestDriverHost.Build(), mig: [new MigCapacity(gpu, "1g.10gb", [(0, 1), (1, 1)])]);
        Wire.Lease lease = host.Service.Lease(new CreateLeaseRequest
        {
            Spec = new LeaseSpec { Owner = "vm", MigProfile = "1g.10gb", Vcpus = 1, MemoryBytes = 512UL << 20, PageSize = LeasePageSize._2M, EmulatorThreads = EmulatorThreadPolicy.Isolate },
        });
        string name = "mig-" + Guid.NewGuid().ToString("N")[..8];
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        string xml = $"<domain type='test'><name>{name}</name><memory unit='KiB'>524288</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices/></domain>";

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(new AttachLeaseRequest { Id = lease.Id, DomainXml = xml, LibvirtUri = TestDriverHost.Uri }));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal(
            $"id: lease {lease.Id} holds MIG instance 1g.10gb at placement 0 of GPU 0000:18:00.0, which cannot be attached to a VM: " +
            "a VM gets a MIG instance only as a vGPU (mdev) of NVIDIA's vGPU manager, which this agent does not set up; lease whole GPUs (--gpus) for a VM, " +
            "and use MIG leases for work on the host (containers); nothing was changed",
            ex.Detail);
        Assert.Null(connection.Lookup(name));
        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
    }
}
