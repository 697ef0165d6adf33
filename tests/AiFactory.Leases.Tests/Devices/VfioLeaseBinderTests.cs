using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Vfio;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Leases.Tests.Planning;
using AiFactory.Profile.Tests.Kernel;

namespace AiFactory.Leases.Tests.Devices;

/// <summary>
/// A whole-GPU lease through the service with the real vfio path (<see cref="VfioBinder"/>, the node profile's) over a
/// sysfs tree shaped like <see cref="Topologies.Workstation"/>: each RTX GPU shares its IOMMU group with its HD-audio
/// function and its PCIe root port. The kernel's answers to the writes come from the profile tests' simulator.
/// </summary>
public sealed class VfioLeaseBinderTests : IDisposable
{
    private static readonly PciAddress Bridge = PciAddress.Parse("0000:00:01.0");
    private static readonly PciAddress Gpu = PciAddress.Parse("0000:01:00.0");
    private static readonly PciAddress Audio = PciAddress.Parse("0000:01:00.1");
    private static readonly PciAddress Gpu2 = PciAddress.Parse("0000:02:00.0");

    private readonly FakeSysfs _sys;
    private readonly KernelSimulator _kernel;
    private readonly LeaseTestHost _host;
    private readonly VfioLeaseBinder _binder;

    public VfioLeaseBinderTests()
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
        _binder = new VfioLeaseBinder(new VfioBinder(new SysfsTree(_sys.Root), _kernel) { ProbeTimeout = TimeSpan.FromSeconds(30) });
        _host = new LeaseTestHost(Topologies.Workstation, binder: _binder);
    }

    private static CreateLeaseRequest OneGpu() => new()
    {
        Spec = new LeaseSpec { Owner = "vm-1", GpuCount = 1, Vcpus = 2, MemoryBytes = 2UL << 30, PageSize = LeasePageSize._2M },
    };

    private string? Override(PciAddress a) => _sys.Read($"bus/pci/devices/{a}/driver_override");

    [Fact]
    public void A_gpu_lease_moves_the_gpu_and_its_audio_function_to_vfio_pci_and_leaves_the_root_port_alone()
    {
        Lease lease = _host.Service.Lease(OneGpu());

        Assert.Equal([Gpu.ToString(), Audio.ToString()], lease.Devices.Select(d => d.Address));
        Assert.Equal("vfio-pci", _sys.DriverOf(Gpu));
        Assert.Equal("vfio-pci", _sys.DriverOf(Audio));
        Assert.Equal("vfio-pci", Override(Gpu));
        Assert.Equal("pcieport", _sys.DriverOf(Bridge));
        Assert.Equal("(null)", Override(Bridge));
        Assert.Equal("nvidia", _sys.DriverOf(Gpu2));
    }

    [Fact]
    public void Releasing_gives_each_function_back_to_the_driver_it_had_and_clears_the_override()
    {
        Lease lease = _host.Service.Lease(OneGpu());

        _host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id });

        Assert.Equal("nvidia", _sys.DriverOf(Gpu));
        Assert.Equal("snd_hda_intel", _sys.DriverOf(Audio));
        Assert.Equal("(null)", Override(Gpu));
        Assert.Equal("(null)", Override(Audio));
        Assert.Equal("pcieport", _sys.DriverOf(Bridge));
    }

    [Fact]
    public void Releasing_puts_back_the_driver_override_the_gpu_had_when_granted()
    {
        // An operator (or the node profile) pinned the GPU to its driver with driver_override before the lease.
        _sys.Write($"bus/pci/devices/{Gpu}/driver_override", "nvidia");
        HostTopology pinned = Topologies.Workstation with
        {
            PciDevices = [.. Topologies.Workstation.PciDevices.Select(d => d.Address == Gpu ? d with { DriverOverride = "nvidia" } : d)],
        };
        using var host = new LeaseTestHost(pinned, binder: _binder);
        Lease lease = host.Service.Lease(OneGpu());
        Assert.Equal("vfio-pci", Override(Gpu));
        Assert.Equal("nvidia", lease.Devices[0].OriginalDriverOverride);

        host.Service.Release(new ReleaseLeaseRequest { Id = lease.Id });

        Assert.Equal("nvidia", Override(Gpu));
        Assert.Equal("nvidia", _sys.DriverOf(Gpu));
        Assert.Equal("(null)", Override(Audio));
    }

    [Fact]
    public void Leasing_an_already_bound_gpu_again_after_release_binds_it_again()
    {
        Lease first = _host.Service.Lease(OneGpu());
        _host.Service.Release(new ReleaseLeaseRequest { Id = first.Id });

        Lease second = _host.Service.Lease(OneGpu());

        Assert.Equal(first.Devices[0].Address, second.Devices[0].Address);
        Assert.Equal("nvidia", second.Devices[0].OriginalDriver);
        Assert.Equal("vfio-pci", _sys.DriverOf(Gpu));
    }

    [Fact]
    public void When_the_companion_cannot_be_bound_the_gpu_is_given_back_and_nothing_is_reserved()
    {
        _kernel.FailNext[$"bus/pci/devices/{Audio}/driver_override"] = 16;

        RpcException refused = Assert.Throws<RpcException>(() => _host.Service.Lease(OneGpu()));

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.StartsWith($"gpus: binding {Audio} to vfio-pci failed", refused.Detail, StringComparison.Ordinal);
        Assert.Equal("nvidia", _sys.DriverOf(Gpu));
        Assert.Equal("(null)", Override(Gpu));
        Assert.Equal("snd_hda_intel", _sys.DriverOf(Audio));
        Assert.Empty(_host.Service.ListLeases(new ListLeasesRequest()).Leases);
    }

    public void Dispose()
    {
        _host.Dispose();
        _sys.Dispose();
    }
}
