using AiFactory.Agent.Events;
using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Leases.Tests.Planning;
using Microsoft.Extensions.Logging.Abstractions;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>The lease service takes what the host says into account: GPU health, NVML names, the node profile's reserved CPUs, the clock.</summary>
public sealed class LeaseServiceHostFactsTests
{
    private const ulong GiB = 1UL << 30;
    private static readonly PciAddress Gpu0 = PciAddress.Parse("0000:18:00.0");

    private static CreateLeaseRequest Ask(uint gpus = 1, string model = "", bool dryRun = false) => new()
    {
        Spec = new LeaseSpec { Owner = "tenant-a", GpuCount = gpus, GpuModel = model, Vcpus = 4, MemoryBytes = 4 * GiB },
        DryRun = dryRun,
    };

    [Fact]
    public void A_gpu_the_health_watcher_marked_unhealthy_is_taken_neither_by_dry_runs_nor_by_grants()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Host.UnhealthyGpus = new HashSet<PciAddress> { Gpu0 };

        Wire.Lease preview = host.Service.Lease(Ask(dryRun: true));
        Wire.Lease granted = host.Service.Lease(Ask(gpus: 7));
        var ex = Assert.Throws<RpcException>(() => host.Service.Lease(Ask()));

        Assert.NotEqual(Gpu0.ToString(), preview.Devices[0].Address);
        Assert.DoesNotContain(granted.Devices, d => d.Address == Gpu0.ToString());
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains("1 unhealthy (0000:18:00.0)", ex.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_nvml_name_gpu_list_prints_is_accepted_as_the_gpu_model()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Host.GpuNames = Topologies.DgxH100.PciDevices.Where(d => d.Kind == Host.Model.Pci.DeviceKind.Gpu).ToDictionary(d => d.Address, _ => "NVIDIA H100 80GB HBM3");

        Assert.Single(host.Service.Lease(Ask(model: "NVIDIA H100 80GB HBM3")).Devices);
        Assert.Single(host.Service.Lease(Ask(model: "10de:2330")).Devices);
    }

    [Fact]
    public void Share_without_reserved_cpus_is_refused_naming_the_field()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100, reserved: CpuSet.Empty);

        var ex = Assert.Throws<RpcException>(() => host.Service.Lease(Ask()));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("spec.emulator_threads: ", ex.Detail, StringComparison.Ordinal);
        Assert.Empty(host.Ledger.List(includeEnded: true));
    }

    [Fact]
    public void Grants_are_refused_while_the_reserved_cpus_are_unknown()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Host.HostReservedCpusUnknown = "node profile /etc/aifactory/profile.yaml does not parse (cpus.reserved: bad)";

        var ex = Assert.Throws<RpcException>(() => host.Service.Lease(Ask()));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Contains("/etc/aifactory/profile.yaml", ex.Detail, StringComparison.Ordinal);
        Assert.Empty(host.Ledger.List(includeEnded: true));
    }

    [Fact]
    public void A_lease_expires_at_its_ttl_with_no_request_arriving()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        CreateLeaseRequest request = Ask(gpus: 2);
        request.Spec.TtlSeconds = 60;
        DateTimeOffset granted = host.Time.Now;
        Wire.Lease lease = host.Service.Lease(request);
        using EventBus.Subscription events = host.Events.Subscribe(replayRecent: false);

        // One wake-up, at the expiry itself: no polling.
        Assert.Equal([granted.AddSeconds(60)], host.Time.Armed);
        host.Time.Now = granted.AddSeconds(59);
        Assert.False(events.Reader.TryRead(out _));
        host.Time.Now = granted.AddSeconds(60);

        Assert.True(events.Reader.TryRead(out Event? expired));
        Assert.Equal(("lease.expired", lease.Id), (expired!.Kind, expired.Subject));
        Assert.Equal(["bind " + lease.Id, "unbind " + lease.Id], host.Binder.Calls);
        Assert.Equal(Host.Model.Leases.LeaseState.Expired, host.Ledger.Get(lease.Id)!.Lease.State);
        Assert.Empty(host.Time.Armed);
    }

    [Fact]
    public void The_expiry_timer_wakes_for_the_earliest_lease_and_then_the_next()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        DateTimeOffset start = host.Time.Now;
        CreateLeaseRequest later = Ask();
        later.Spec.TtlSeconds = 600;
        CreateLeaseRequest sooner = Ask();
        sooner.Spec.TtlSeconds = 30;

        Wire.Lease a = host.Service.Lease(later);
        Wire.Lease b = host.Service.Lease(sooner);
        Assert.Equal([start.AddSeconds(30)], host.Time.Armed);
        host.Time.Now = start.AddSeconds(30);

        Assert.Equal(Host.Model.Leases.LeaseState.Expired, host.Ledger.Get(b.Id)!.Lease.State);
        Assert.Equal(Host.Model.Leases.LeaseState.Active, host.Ledger.Get(a.Id)!.Lease.State);
        Assert.Equal([start.AddSeconds(600)], host.Time.Armed);
    }

    [Fact]
    public void A_lease_due_later_than_a_timer_can_wait_is_granted_and_expires_on_time_through_re_armed_waits()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        DateTimeOffset start = host.Time.Now;
        CreateLeaseRequest request = Ask();
        request.Spec.TtlSeconds = (long)TimeSpan.FromDays(60).TotalSeconds;

        Wire.Lease lease = host.Service.Lease(request);

        Assert.Equal([start + LeaseService.LongestWait], host.Time.Armed);
        host.Time.Now = start + LeaseService.LongestWait;
        Assert.Equal(Host.Model.Leases.LeaseState.Active, host.Ledger.Get(lease.Id)!.Lease.State);
        Assert.Equal([start.AddDays(60)], host.Time.Armed);
        host.Time.Now = start.AddDays(60);
        Assert.Equal(Host.Model.Leases.LeaseState.Expired, host.Ledger.Get(lease.Id)!.Lease.State);
    }

    [Fact]
    public void On_the_real_clock_a_hundred_year_lease_is_granted_and_the_service_starts_again_over_its_ledger()
    {
        string dir = Path.Combine(Path.GetTempPath(), "aifactory-leases-" + Guid.NewGuid().ToString("N"));
        try
        {
            var ledger = new LeaseLedger(dir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
            ledger.Load();
            var host = new StaticLeaseHost(Topologies.DgxH100, LeaseTestHost.LastCores(Topologies.DgxH100));
            CreateLeaseRequest request = Ask();
            request.Spec.TtlSeconds = (long)TimeSpan.FromDays(36500).TotalSeconds;
            Wire.Lease lease;
            using (var service = new LeaseService(ledger, host, new RecordingBinder(), new Host.Hardware.Libvirt.NativeLibvirt(), new EventBus(), TimeProvider.System, NullLogger<LeaseService>.Instance))
            {
                lease = service.Lease(request);
            }

            // A restart arms the timer from the ledger in the constructor: it used to throw there, every start.
            var reloaded = new LeaseLedger(dir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
            reloaded.Load();
            using var again = new LeaseService(reloaded, host, new RecordingBinder(), new Host.Hardware.Libvirt.NativeLibvirt(), new EventBus(), TimeProvider.System, NullLogger<LeaseService>.Instance);
            Assert.Equal(Host.Model.Leases.LeaseState.Active, reloaded.Get(lease.Id)!.Lease.State);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task On_the_real_clock_a_one_second_lease_expires_by_itself()
    {
        string dir = Path.Combine(Path.GetTempPath(), "aifactory-leases-" + Guid.NewGuid().ToString("N"));
        var ledger = new LeaseLedger(dir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
        ledger.Load();
        var events = new EventBus();
        using var service = new LeaseService(ledger, new StaticLeaseHost(Topologies.DgxH100, LeaseTestHost.LastCores(Topologies.DgxH100)), new RecordingBinder(),
            new Host.Hardware.Libvirt.NativeLibvirt(), events, TimeProvider.System, NullLogger<LeaseService>.Instance);
        using EventBus.Subscription subscription = events.Subscribe(replayRecent: false);
        CreateLeaseRequest request = Ask();
        request.Spec.TtlSeconds = 1;

        Wire.Lease lease = service.Lease(request);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Event next;
        do
        {
            next = await subscription.Reader.ReadAsync(timeout.Token);
        }
        while (next.Kind != "lease.expired");

        Assert.Equal(lease.Id, next.Subject);
        Directory.Delete(dir, recursive: true);
    }
}
