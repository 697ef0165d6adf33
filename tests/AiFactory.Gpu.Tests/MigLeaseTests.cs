using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Leases;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Topology;
using Microsoft.Extensions.Logging.Abstractions;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Gpu.Tests;

/// <summary>MIG leases through the lease service, against the fake NVML: capacity from NVML, instance made and removed.</summary>
[Collection("fake-nvml")]
public sealed class MigLeaseTests
{
    [Fact]
    public void A_MIG_lease_creates_the_instance_at_its_planned_placement_and_release_destroys_it()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true, captureTree: true);
        using var leases = new Leases(server, new NoDevices());

        Wire.Lease lease = leases.Service.Lease(Ask());

        Assert.Equal("1g.10gb", lease.Mig.Profile);
        MigInstance made = Assert.Single(Instances(server));
        Assert.Equal("1g.10gb", made.Profile);
        Assert.Equal((uint)lease.Mig.PlacementStart, made.Placement.Start);
        Assert.False(made.IsOrphaned);
        Assert.DoesNotContain(server.Applier.Capacity().Single(c => c.Profile == "1g.10gb").FreePlacements, p => p.Start == lease.Mig.PlacementStart);

        leases.Service.Release(new Wire.ReleaseLeaseRequest { Id = lease.Id });

        Assert.Empty(Instances(server));
    }

    [Fact]
    public void Without_a_MIG_GPU_the_lease_is_refused_and_with_one_two_leases_get_different_placements()
    {
        using (var plain = new FakeServer("dgx-h100", captureTree: true))
        using (var none = new Leases(plain, new NoDevices()))
        {
            var refused = Assert.Throws<RpcException>(() => none.Service.Lease(Ask()));
            Assert.Contains("no GPU in MIG mode", refused.Detail, StringComparison.Ordinal);
        }

        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true, captureTree: true);
        using var leases = new Leases(server, new NoDevices());

        Wire.Lease a = leases.Service.Lease(Ask());
        Wire.Lease b = leases.Service.Lease(Ask());

        Assert.NotEqual(a.Mig.PlacementStart, b.Mig.PlacementStart);
        Assert.Equal(2, Instances(server).Count);
    }

    [Fact]
    public void A_failed_bind_after_the_MIG_create_leaves_no_instance_and_no_lease()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true, captureTree: true);
        using var leases = new Leases(server, new FailingDevices());

        Assert.Throws<InvalidOperationException>(() => leases.Service.Lease(Ask()));

        Assert.Empty(Instances(server));
        Assert.Empty(leases.Service.ListLeases(new Wire.ListLeasesRequest()).Leases);
    }

    [Fact]
    public void A_MIG_lease_whose_GPU_fell_off_the_bus_is_released_counting_its_instance_as_destroyed()
    {
        using var server = new FakeServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true, captureTree: true);
        using var leases = new Leases(server, new NoDevices());
        Wire.Lease lease = leases.Service.Lease(Ask());

        // GPU 0 falls off the bus: the fake answers the next event wait with GPU_IS_LOST and loses the GPU.
        INvml api = server.Nvml.Require();
        using NvmlEventSetHandle set = api.CreateEventSet();
        File.AppendAllText(server.EventsPath, "0 lost\n");
        NvmlException lost = Assert.Throws<NvmlException>(() => api.WaitForEvent(set, 5000, out _));
        Assert.Equal(NvmlReturn.GpuIsLost, lost.Code);

        Wire.Lease released = leases.Service.Release(new Wire.ReleaseLeaseRequest { Id = lease.Id });

        Assert.Equal(Wire.LeaseState.Released, released.State);
        string left = Assert.Single(released.NotRestored);
        Assert.StartsWith($"MIG instance 1g.10gb at {lease.Mig.PlacementStart}:{lease.Mig.PlacementSize} on {lease.Mig.Gpu}: the GPU is gone (", left, StringComparison.Ordinal);
        Assert.EndsWith("counted as destroyed", left, StringComparison.Ordinal);
        Assert.Empty(leases.Service.ListLeases(new Wire.ListLeasesRequest()).Leases);
    }

    private static Wire.CreateLeaseRequest Ask() => new()
    {
        Spec = new Wire.LeaseSpec { Owner = "tenant-a", MigProfile = "1g.10gb", Vcpus = 2, MemoryBytes = 1UL << 30 },
    };

    private static IReadOnlyList<MigInstance> Instances(FakeServer server)
    {
        INvml api = server.Nvml.Require();
        NvmlDevice gpu = api.GetDevice(0);
        return MigReader.ReadInstances(api, gpu, MigReader.ReadProfiles(api, gpu));
    }

    private sealed class NoDevices : ILeaseDeviceBinder
    {
        public string Description => "none";

        public void Bind(Lease lease)
        {
        }

        public void Unbind(Lease lease)
        {
        }
    }

    private sealed class FailingDevices : ILeaseDeviceBinder
    {
        public string Description => "failing";

        public void Bind(Lease lease) => throw new InvalidOperationException("vfio bind failed");

        public void Unbind(Lease lease)
        {
        }
    }

    /// <summary>The daemon's composition: topology from the fixture tree, MIG capacity from NVML, the MIG binder.</summary>
    private sealed class Leases : ILeaseHost, IDisposable
    {
        private readonly FakeServer _server;
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "aifactory-gpu-leases-" + Guid.NewGuid().ToString("n"));

        public Leases(FakeServer server, ILeaseDeviceBinder devices)
        {
            _server = server;
            Topology = new HostDiscovery(server.SysfsRoot, Path.Combine(server.Root, "proc")).Discover();
            var ledger = new LeaseLedger(_dir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
            ledger.Load();
            Service = new LeaseService(ledger, this, new MigLeaseBinder(devices, server.Applier), new NativeLibvirt(), new EventBus(), TimeProvider.System, NullLogger<LeaseService>.Instance);
        }

        public LeaseService Service { get; }

        public HostTopology? Topology { get; }

        // Where shared emulator threads run; without any, share is refused.
        public CpuSet HostReservedCpus => CpuSet.Of(0);

        public IReadOnlyList<MigCapacity> MigCapacity => _server.Applier.Capacity();

        public void Dispose()
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
