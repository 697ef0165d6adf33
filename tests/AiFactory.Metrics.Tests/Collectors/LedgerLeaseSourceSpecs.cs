using AiFactory.Agent.Events;
using AiFactory.Agent.Leases;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Agent.Metrics;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Topology;
using AiFactory.Metrics.Tests.Fixtures;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Metrics.Tests.Collectors;

/// <summary>
/// The lease series fed by the real lease ledger, as the daemon wires them: a lease made through
/// <see cref="LeaseService"/> on the DGX H100 fixture shows up in the exposition.
/// </summary>
public sealed class LedgerLeaseSourceSpecs : IDisposable
{
    private const ulong GiB = 1UL << 30;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "aifactory-metrics-leases-" + Guid.NewGuid().ToString("N"));
    private readonly HostTopology _topology;
    private readonly string _sys;
    private readonly StaticLeaseHost _host;
    private readonly LeaseLedger _ledger;
    private readonly LeaseService _service;

    public LedgerLeaseSourceSpecs()
    {
        string root = HardwareFixtures.Root("dgx-h100");
        _sys = Path.Combine(root, "sys");
        _topology = new HostDiscovery(_sys, Path.Combine(root, "proc")).Discover();
        _host = new StaticLeaseHost(_topology, CpuSet.Of([0, 1]));
        _ledger = new LeaseLedger(_directory, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
        _ledger.Load();
        _service = new LeaseService(
            _ledger, _host, new DeferredDeviceBinder("test"), new NativeLibvirt(), new EventBus(), TimeProvider.System, NullLogger<LeaseService>.Instance);
    }

    [Fact]
    public void A_lease_made_through_the_lease_service_appears_in_the_exposition()
    {
        Wire.Lease lease = _service.Lease(new Wire.CreateLeaseRequest
        {
            Spec = new Wire.LeaseSpec { Owner = "tenant-a", GpuCount = 2, Vcpus = 8, MemoryBytes = 4 * GiB },
        });

        var samples = ExpositionParser.Parse(Scrapes.Text(Scraper()), openMetrics: false);

        Assert.Equal(1, samples.Single(s => s.Name == "aifactory_leases" && s.Labels["state"] == "active").Value);
        Assert.Single(samples, s => s.Name == "aifactory_lease_info" && s.Labels["lease"] == lease.Id);
        var devices = samples.Where(s => s.Name == "aifactory_lease_device_info" && s.Labels["lease"] == lease.Id).ToList();
        Assert.Equal(lease.Devices.Select(d => d.Address).Order(), devices.Select(d => d.Labels["address"]).Order());
        Assert.Equal(2, devices.Count(d => d.Labels["kind"] == "gpu"));
        Assert.Equal(8, samples.Single(s => s.Name == "aifactory_lease_cpus" && s.Labels["lease"] == lease.Id).Value);

        int node = (int)lease.Nodes.Single().Node;
        Assert.Equal(4, samples.Single(s => s.Name == "aifactory_hugepages_leased_pages" &&
            s.Labels["numa_node"] == node.ToString(System.Globalization.CultureInfo.InvariantCulture) && s.Labels["page_size_kib"] == "1048576").Value);
        Assert.Equal(8, samples.Where(s => s.Name == "aifactory_numa_cpus" && s.Labels["state"] == "dedicated").Sum(s => s.Value));
        Assert.Equal(2, samples.Where(s => s.Name == "aifactory_numa_cpus" && s.Labels["state"] == "reserved").Sum(s => s.Value));
        Assert.Equal(0, samples.Single(s => s.Name == "aifactory_lease_numa_misaligned" && s.Labels["lease"] == lease.Id && s.Labels["resource"] == "cpu").Value);
        Assert.Equal(0, samples.Single(s => s.Name == "aifactory_lease_numa_misaligned" && s.Labels["lease"] == lease.Id && s.Labels["resource"] == "memory").Value);
    }

    [Fact]
    public void A_released_lease_leaves_the_exposition()
    {
        Wire.Lease lease = _service.Lease(new Wire.CreateLeaseRequest
        {
            Spec = new Wire.LeaseSpec { Owner = "tenant-a", GpuCount = 1, Vcpus = 4, MemoryBytes = 2 * GiB },
        });
        _service.Release(new Wire.ReleaseLeaseRequest { Id = lease.Id });

        var samples = ExpositionParser.Parse(Scrapes.Text(Scraper()), openMetrics: false);

        Assert.DoesNotContain(samples, s => s.Name.StartsWith("aifactory_lease_", StringComparison.Ordinal));
        Assert.Equal(0, samples.Where(s => s.Name == "aifactory_hugepages_leased_pages").Sum(s => s.Value));
        Assert.Equal(0, samples.Where(s => s.Name == "aifactory_numa_cpus" && s.Labels["state"] == "dedicated").Sum(s => s.Value));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private MetricsScraper Scraper() => new(
        [new PciDeviceCollector(), new NumaCollector(), new LeaseCollector()],
        new InventoryNodeSource(() => _topology, _sys, () => _host.HostReservedCpus),
        new LedgerLeaseSource(_ledger),
        null,
        NullLogger.Instance);
}
