using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Vfio;
using AiFactory.Host.Model.Pci;
using AiFactory.Leases.Tests.Planning;
using AiFactory.Profile.Tests.Kernel;

namespace AiFactory.Leases.Tests.Devices;

/// <summary>
/// A lease whose device left the host after the grant (hot-removed, fallen off the bus) still ends: the missing
/// function counts as given back (reported as drift and recorded), the others go back to their drivers, and the
/// lease's CPUs and hugepages are free again. A device that is there but will not go back ends only with force.
/// </summary>
public sealed class VanishedDeviceReleaseTests : IDisposable
{
    private static readonly PciAddress Gpu = PciAddress.Parse("0000:01:00.0");
    private static readonly PciAddress Audio = PciAddress.Parse("0000:01:00.1");

    private readonly FakeSysfs _sys;
    private readonly KernelSimulator _kernel;
    private readonly LeaseTestHost _host;

    public VanishedDeviceReleaseTests()
    {
        _sys = new FakeSysfs()
            .Device("0000:00:01.0", 0x8086, 0x1901, 0x060400, "pcieport", 1)
            .Device("0000:01:00.0", 0x10de, 0x2230, 0x030000, "nvidia", 1)
            .Device("0000:01:00.1", 0x10de, 0x1aef, 0x040300, "snd_hda_intel", 1)
            .Device("0000:00:02.0", 0x8086, 0x1901, 0x060400, "pcieport", 2)
            .Device("0000:02:00.0", 0x10de, 0x2230, 0x030000, "nvidia", 2)
            .Device("0000:02:00.1", 0x10de, 0x1aef, 0x040300, "snd_hda_intel", 2);
        Directory.CreateDirectory(_sys.P("bus/pci/drivers/vfio-pci"));
        _kernel = new KernelSimulator(_sys);
        var binder = new VfioLeaseBinder(new VfioBinder(new SysfsTree(_sys.Root), _kernel) { ProbeTimeout = TimeSpan.FromSeconds(30) });
        _host = new LeaseTestHost(Topologies.Workstation, binder: binder);
    }

    private static CreateLeaseRequest OneGpu(long ttlSeconds = 0) => new()
    {
        Spec = new LeaseSpec { Owner = "vm-1", GpuCount = 1, Vcpus = 2, MemoryBytes = 2UL << 30, PageSize = LeasePageSize._2M, TtlSeconds = ttlSeconds },
    };

    private Lease Granted(long ttlSeconds = 0)
    {
        Lease lease = _host.Service.Lease(OneGpu(ttlSeconds));
        Assert.Equal([Gpu.ToString(), Audio.ToString()], lease.Devices.Select(d => d.Address));
        return lease;
    }

    private void RemoveGpu() => Directory.Delete(_sys.P($"bus/pci/devices/{Gpu}"), recursive: true);

    private static string Vanished => $"{Gpu}: not on the host any more (Gpu); counted as given back";

    [Fact]
    public void Releasing_a_lease_whose_gpu_vanished_counts_it_as_given_back_restores_the_rest_and_frees_cpus_and_pages()
    {
        Lease lease = Granted();
        RemoveGpu();

        Lease released = _host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id });

        Assert.Equal(LeaseState.Released, released.State);
        Assert.Equal([Vanished], released.NotRestored);
        Assert.Equal("snd_hda_intel", _sys.DriverOf(Audio));
        Assert.Empty(_host.Ledger.List(includeEnded: false));
        var drift = Assert.Single(_host.Events.Recent(), e => e.Kind == "lease.drift");
        Assert.Equal((lease.Id, Vanished), (drift.Subject, drift.Message));
        using LeaseTestHost restarted = _host.Restart();
        Assert.Equal([Vanished], restarted.Ledger.Get(lease.Id)!.ToWire().NotRestored);
    }

    [Fact]
    public void An_expired_lease_whose_gpu_vanished_ends_at_its_expiry_instead_of_being_retried_for_good()
    {
        Lease lease = Granted(ttlSeconds: 60);
        RemoveGpu();

        _host.Time.Now += TimeSpan.FromMinutes(2);

        Lease expired = _host.Service.GetLease(new GetLeaseRequest { Id = lease.Id });
        Assert.Equal(LeaseState.Expired, expired.State);
        Assert.Equal([Vanished], expired.NotRestored);
        Assert.Empty(_host.Time.Armed);
        Assert.Contains(_host.Events.Recent(), e => e.Kind == "lease.expired" && e.Subject == lease.Id);
    }

    [Fact]
    public void A_device_that_will_not_go_back_blocks_a_release_until_it_is_forced_and_the_forced_release_lists_it()
    {
        Lease lease = Granted();
        _kernel.FailAlways[($"bus/pci/devices/{Audio}/driver_override", string.Empty)] = 16;

        RpcException refused = Assert.Throws<RpcException>(() => _host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id }));
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("release with force", refused.Detail, StringComparison.Ordinal);
        Assert.Equal(LeaseState.Active, _host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);

        Lease released = _host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id, Force = true });

        Assert.Equal(LeaseState.Released, released.State);
        string left = Assert.Single(released.NotRestored);
        Assert.StartsWith($"{Audio}: giving it back to snd_hda_intel failed (", left, StringComparison.Ordinal);
        Assert.EndsWith("left as it is (released with force)", left, StringComparison.Ordinal);
        Assert.Equal("nvidia", _sys.DriverOf(Gpu));
        Assert.Empty(_host.Ledger.List(includeEnded: false));
    }

    public void Dispose()
    {
        _host.Dispose();
        _sys.Dispose();
    }
}
