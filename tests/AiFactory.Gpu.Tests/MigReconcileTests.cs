using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Leases;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Topology;
using Microsoft.Extensions.Logging.Abstractions;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Gpu.Tests;

/// <summary>
/// Reconciliation at start compares each MIG lease with the GPU instances NVML reports (GH200 fixture, fake NVML in
/// MIG mode): a missing or different instance is reported as drift, NVML absent is reported as unchecked, and the
/// ledger and the GPU are left as they are.
/// </summary>
[Collection("fake-nvml")]
public sealed class MigReconcileTests
{
    private const string Gpu = "0009:01:00.0";

    [Fact]
    public void Restarting_with_MIG_leases_whose_instances_NVML_still_reports_finds_nothing()
    {
        using var server = new FakeServer("gh200", s => s["gpus"]![0]!["migMode"] = true, captureTree: true);
        using var node = new Node(server);
        node.Service.Lease(Ask());
        node.Service.Lease(Ask());

        (int found, EventBus events) = node.ReconcileAfterRestart(node.Applier.Observe);

        Assert.Equal(0, found);
        Assert.DoesNotContain(events.Recent(), e => e.Kind is "lease.drift" or "lease.unchecked");
    }

    [Fact]
    public void Restarting_with_two_MIG_leases_while_NVML_shows_no_GPU_instances_reports_each_lease_and_changes_nothing()
    {
        using var server = new FakeServer("gh200", s => s["gpus"]![0]!["migMode"] = true, captureTree: true);
        using var node = new Node(server);
        Wire.Lease a = node.Service.Lease(Ask());
        Wire.Lease b = node.Service.Lease(Ask());
        // What a reboot does: MIG mode stays, the GPU instances are gone.
        server.Applier.DestroyAt("0", a.Mig.Profile, (uint)a.Mig.PlacementStart);
        server.Applier.DestroyAt("0", b.Mig.Profile, (uint)b.Mig.PlacementStart);

        (int found, EventBus events) = node.ReconcileAfterRestart(node.Applier.Observe);

        Assert.Equal(2, found);
        var drift = events.Recent().Where(e => e.Kind == "lease.drift").ToList();
        Assert.Equal(new[] { a.Id, b.Id }.Order(StringComparer.Ordinal), drift.Select(e => e.Subject).Order(StringComparer.Ordinal));
        Assert.Contains($"NVML reports no MIG instance 1g.12gb@{a.Mig.PlacementStart}:{a.Mig.PlacementSize} on {Gpu} (GPU instances on {Gpu}: none)", drift.Select(e => e.Message));
        Assert.Empty(Instances(server));
        Assert.Equal(2, node.RestartedLeases().Count);
    }

    [Fact]
    public void A_different_instance_where_a_lease_placed_its_own_is_reported_with_what_NVML_shows()
    {
        using var server = new FakeServer("gh200", s => s["gpus"]![0]!["migMode"] = true, captureTree: true);
        using var node = new Node(server);
        Wire.Lease a = node.Service.Lease(Ask());
        uint start = (uint)a.Mig.PlacementStart;
        server.Applier.DestroyAt("0", a.Mig.Profile, start);
        server.Applier.CreateAt("0", "1g.24gb", start - (start % 2), 2);

        (int found, EventBus events) = node.ReconcileAfterRestart(node.Applier.Observe);

        Assert.Equal(1, found);
        string message = Assert.Single(events.Recent(), e => e.Kind == "lease.drift").Message;
        Assert.StartsWith($"NVML reports 1g.24gb@{start - (start % 2)}:2 (GPU instance ", message, StringComparison.Ordinal);
        Assert.EndsWith($"where the lease's MIG instance 1g.12gb@{start}:1 on {Gpu} should be", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_NVML_each_MIG_lease_is_reported_as_not_checked()
    {
        using var server = new FakeServer("gh200", s => s["gpus"]![0]!["migMode"] = true, captureTree: true);
        using var node = new Node(server);
        Wire.Lease a = node.Service.Lease(Ask());
        node.Service.Lease(Ask());
        using var absent = new GpuNvml(Path.Combine(server.Root, "no-such-libnvidia-ml.so.1"), server.SysfsRoot);
        var blind = new MigApplier(absent, new GpuInventory(absent, new GpuHealthRegistry()));

        (int found, EventBus events) = node.ReconcileAfterRestart(blind.Observe);

        Assert.Equal(2, found);
        var notChecked = events.Recent().Where(e => e.Kind == "lease.unchecked").ToList();
        Assert.Equal(2, notChecked.Count);
        Assert.Contains(notChecked, e => e.Subject == a.Id && e.Message.StartsWith($"MIG instance 1g.12gb@{a.Mig.PlacementStart}:1 on {Gpu} could not be checked: NVML is not available", StringComparison.Ordinal));
        Assert.DoesNotContain(events.Recent(), e => e.Kind == "lease.drift");
    }

    [Fact]
    public void With_binding_deferred_a_missing_MIG_instance_is_reported_as_not_checked_and_an_occupied_placement_as_drift()
    {
        using var server = new FakeServer("gh200", s => s["gpus"]![0]!["migMode"] = true, captureTree: true);
        using var node = new Node(server);
        Wire.Lease a = node.Service.Lease(Ask());
        Wire.Lease b = node.Service.Lease(Ask());
        server.Applier.DestroyAt("0", a.Mig.Profile, (uint)a.Mig.PlacementStart);
        server.Applier.DestroyAt("0", b.Mig.Profile, (uint)b.Mig.PlacementStart);
        // Another profile now sits on b's slice.
        server.Applier.CreateAt("0", "1g.12gb+me", (uint)b.Mig.PlacementStart, 1);

        (int found, EventBus events) = node.ReconcileAfterRestart(node.Applier.Observe, devicesBound: false);

        Assert.Equal(2, found);
        Assert.Equal(
            $"NVML reports no MIG instance 1g.12gb@{a.Mig.PlacementStart}:1 on {Gpu}: binding is deferred, so the agent never created it (the lease is recorded only)",
            Assert.Single(events.Recent(), e => e.Kind == "lease.unchecked").Message);
        Assert.Equal(b.Id, Assert.Single(events.Recent(), e => e.Kind == "lease.drift").Subject);
    }

    private static Wire.CreateLeaseRequest Ask() => new()
    {
        Spec = new Wire.LeaseSpec { Owner = "tenant-a", MigProfile = "1g.12gb", Vcpus = 2, MemoryBytes = 1UL << 30, PageSize = Wire.LeasePageSize._4K },
    };

    private static IReadOnlyList<AiFactory.Host.Model.Gpu.MigInstance> Instances(FakeServer server)
    {
        var api = server.Nvml.Require();
        var gpu = api.GetDevice(0);
        return MigReader.ReadInstances(api, gpu, MigReader.ReadProfiles(api, gpu));
    }

    /// <summary>
    /// The daemon's composition on the fake server: topology from the fixture tree, MIG capacity from NVML, the MIG
    /// binder over an applier that keeps the ledger's holds; and a restart (a fresh ledger on the same state dir).
    /// </summary>
    private sealed class Node : ILeaseHost, IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "aifactory-gpu-reconcile-" + Guid.NewGuid().ToString("n"));

        public Node(FakeServer server)
        {
            Topology = new HostDiscovery(server.SysfsRoot, Path.Combine(server.Root, "proc")).Discover();
            var ledger = new LeaseLedger(_dir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
            ledger.Load();
            Applier = new MigApplier(server.Nvml, server.Inventory, ledger);
            Service = new LeaseService(ledger, this, new MigLeaseBinder(new DeferredDeviceBinder("test"), Applier), new NativeLibvirt(), new EventBus(), TimeProvider.System, NullLogger<LeaseService>.Instance);
        }

        public MigApplier Applier { get; }

        public LeaseService Service { get; }

        public HostTopology? Topology { get; }

        // Where shared emulator threads run; without any, share is refused.
        public CpuSet HostReservedCpus => CpuSet.Of(0);

        public IReadOnlyList<MigCapacity> MigCapacity => Applier.Capacity();

        public (int Found, EventBus Events) ReconcileAfterRestart(Func<MigObservation> readMig, bool devicesBound = true)
        {
            var ledger = new LeaseLedger(_dir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
            ledger.Load();
            var events = new EventBus();
            int found = LeaseRegistration.Reconcile(ledger, this, events, NullLogger.Instance, devicesBound, readMig: readMig);
            return (found, events);
        }

        public IReadOnlyList<Lease> RestartedLeases()
        {
            var ledger = new LeaseLedger(_dir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
            ledger.Load();
            return [.. ledger.List(includeEnded: false).Select(e => e.Lease)];
        }

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
