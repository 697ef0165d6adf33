using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Agent.Inventory;
using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Leases.Tests.Planning;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>
/// The daemon's lease host reads the stored node profile once per Lease call: the host-reserved CPUs a grant checks
/// are the ones it plans with, even while the profile is being rewritten.
/// </summary>
public sealed class DaemonLeaseHostTests
{
    private const string Good = "version: v1\ncpus:\n  reserved: 0-1,112-113\n";
    private const string Broken = "version: v1\ncpus:\n  reserved: 3-1\n";

    private static CreateLeaseRequest Ask() => new()
    {
        Spec = new LeaseSpec { Owner = "t", GpuCount = 1, Vcpus = 2, MemoryBytes = 4UL << 30 },
    };

    [Fact]
    public void A_lease_reads_the_node_profile_once_and_plans_with_what_that_read_said()
    {
        string root = FixtureTopologies.Root("dgx-h100");
        var inventory = new InventoryService(
            new AgentOptions { SysfsRoot = Path.Combine(root, "sys"), ProcfsRoot = Path.Combine(root, "proc") },
            new EventBus(), NullLogger<InventoryService>.Instance);

        // The profile is being fixed while the lease is asked for: the first read finds it broken, later ones good.
        int reads = 0;
        (string Yaml, string Source)? Stored() => (Interlocked.Increment(ref reads) == 1 ? Broken : Good, "/var/lib/aifactory/profile/node-profile.yaml");
        var host = new DaemonLeaseHost(inventory, Stored, NullLogger.Instance);
        string dir = Path.Combine(Path.GetTempPath(), "aifactory-leases-" + Guid.NewGuid().ToString("N"));
        var ledger = new LeaseLedger(dir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
        ledger.Load();
        using var service = new LeaseService(ledger, host, new DeferredDeviceBinder(), new NativeLibvirt(), new EventBus(), TimeProvider.System, NullLogger<LeaseService>.Instance);
        try
        {
            RpcException refused = Assert.Throws<RpcException>(() => service.Lease(Ask()));
            int readsForOneLease = reads;
            Lease granted = service.Lease(Ask());

            Assert.Equal(1, readsForOneLease);
            Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
            Assert.StartsWith("cpus.reserved: node profile /var/lib/aifactory/profile/node-profile.yaml does not parse", refused.Detail, StringComparison.Ordinal);
            Assert.Equal(2, reads);
            Assert.Equal("0-1,112-113", granted.EmulatorCpus);
        }
        finally
        {
            ledger.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }
}
