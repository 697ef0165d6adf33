using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;
using AiFactory.Leases.Tests.Planning;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>
/// Reconciliation at start expects the drivers the binder leaves: vfio-pci for every leased function while the vfio
/// binder is active, vfio-pci or the original driver while binding is deferred. It reports and changes nothing.
/// </summary>
public sealed class LeaseReconcileTests
{
    private static CreateLeaseRequest Ask(uint gpus) => new()
    {
        Spec = new LeaseSpec { Owner = "tenant-a", GpuCount = gpus, Vcpus = 4, MemoryBytes = 4UL << 30 },
    };

    /// <summary>The fixture with the lease's functions on vfio-pci, except those given another driver (null: none).</summary>
    private static HostTopology Bound(Wire.Lease lease, params (PciAddress Address, string? Driver)[] except)
    {
        var leased = lease.Devices.Select(d => PciAddress.Parse(d.Address)).ToHashSet();
        var drivers = except.ToDictionary(e => e.Address, e => e.Driver);
        return Topologies.DgxH100 with
        {
            PciDevices = [.. Topologies.DgxH100.PciDevices.Select(d =>
                drivers.TryGetValue(d.Address, out string? driver) ? d with { Driver = driver }
                : leased.Contains(d.Address) ? d with { Driver = "vfio-pci" }
                : d)],
        };
    }

    [Fact]
    public void With_the_vfio_binder_active_a_leased_GPU_found_back_on_its_original_driver_is_reported()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        Wire.Lease lease = host.Service.Lease(Ask(gpus: 2));
        PciAddress rebooted = PciAddress.Parse(lease.Devices[0].Address);
        PciAddress unbound = PciAddress.Parse(lease.Devices[1].Address);

        using var later = new LeaseTestHost(Bound(lease, (rebooted, "nvidia"), (unbound, null)), null, host.Directory, host.Time);
        int found = LeaseRegistration.Reconcile(later.Ledger, later.Host, later.Events, later.Logger, devicesBound: true);

        Assert.Equal(2, found);
        var messages = later.Events.Recent().Where(e => e.Kind == "lease.drift").Select(e => e.Message).ToList();
        Assert.Contains($"device {rebooted} (Gpu) is bound to nvidia; the lease expects vfio-pci (devices are bound to vfio-pci while leased)", messages);
        Assert.Contains($"device {unbound} (Gpu) is bound to no driver; the lease expects vfio-pci (devices are bound to vfio-pci while leased)", messages);
        Assert.Equal(lease, later.Service.GetLease(new GetLeaseRequest { Id = lease.Id }));
    }

    [Fact]
    public void With_the_vfio_binder_active_every_leased_function_on_vfio_pci_is_no_drift()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        Wire.Lease lease = host.Service.Lease(Ask(gpus: 2));

        using var later = new LeaseTestHost(Bound(lease), null, host.Directory, host.Time);

        Assert.Equal(0, LeaseRegistration.Reconcile(later.Ledger, later.Host, later.Events, later.Logger, devicesBound: true));
        Assert.DoesNotContain(later.Events.Recent(), e => e.Kind == "lease.drift");
    }

    [Fact]
    public void With_an_empty_ledger_a_device_left_on_vfio_pci_is_still_reported()
    {
        // As after a set-aside: the ledger remembers nothing, but a lost lease's GPU is still on vfio-pci.
        using var host = new LeaseTestHost(Topologies.DgxH100);
        Wire.Lease lost = host.Service.Lease(Ask(gpus: 1));
        PciAddress gpu = PciAddress.Parse(lost.Devices[0].Address);
        using var empty = new LeaseTestHost(Bound(lost), null, null, host.Time);

        int found = LeaseRegistration.Reconcile(empty.Ledger, empty.Host, empty.Events, empty.Logger, devicesBound: true);

        Assert.Equal(1, found);
        var reported = Assert.Single(empty.Events.Recent(), e => e.Kind == "lease.unleased_device");
        Assert.Equal(gpu.ToString(), reported.Subject);
        Assert.StartsWith($"device {gpu} is on vfio-pci but no lease holds it", reported.Message, StringComparison.Ordinal);
        Assert.Equal(0, LeaseRegistration.Reconcile(host.Ledger, new StaticLeaseHost(Bound(lost), host.Host.HostReservedCpus), host.Events, host.Logger, devicesBound: true));
    }

    [Fact]
    public void A_device_the_node_profile_binds_to_vfio_pci_is_not_reported_and_one_it_does_not_bind_still_is()
    {
        // Two GPUs and two VFs on vfio-pci, no lease: the profile binds one GPU (vfio.devices) and the VFs of one PF
        // (sriov vfDriver: vfio-pci); the other GPU is on vfio-pci for no reason the agent knows.
        using var host = new LeaseTestHost(Topologies.DgxH100);
        PciAddress[] gpus = [.. Topologies.DgxH100.PciDevices.Where(d => d.Kind == DeviceKind.Gpu).Select(d => d.Address).Take(2)];
        PciDevice pf = Topologies.DgxH100.PciDevices.First(d => d.Sriov is { NumVfs: > 0 });
        var onVfio = new HashSet<PciAddress>([.. gpus, .. pf.Sriov!.VirtualFunctions]);
        HostTopology bound = Topologies.DgxH100 with { PciDevices = [.. Topologies.DgxH100.PciDevices.Select(d => onVfio.Contains(d.Address) ? d with { Driver = "vfio-pci" } : d)] };
        NodeProfile profile = AiFactory.Agent.Profile.ProfileYaml.Parse(
            $"version: v1\nvfio:\n  devices: [{gpus[0]}]\nsriov: [{{pf: {pf.Address}, numVfs: {pf.Sriov.NumVfs}, vfDriver: vfio-pci}}]\n");
        using var later = new LeaseTestHost(bound, null, host.Directory, host.Time);

        int withoutProfile = LeaseRegistration.Reconcile(later.Ledger, later.Host, later.Events, later.Logger, devicesBound: true);
        int before = later.Events.Recent().Count(e => e.Kind == "lease.unleased_device");
        int found = LeaseRegistration.Reconcile(later.Ledger, later.Host, later.Events, later.Logger, devicesBound: true, profile: profile);

        Assert.Equal(onVfio.Count, withoutProfile);
        Assert.Equal(1, found);
        var reported = Assert.Single(later.Events.Recent().Where(e => e.Kind == "lease.unleased_device").Skip(before));
        Assert.Equal(gpus[1].ToString(), reported.Subject);
        Assert.Equal($"device {gpus[1]} is on vfio-pci but no lease holds it and the node profile does not bind it there (an earlier profile or another tool may have)", reported.Message);
    }

    [Fact]
    public void With_binding_deferred_a_leased_GPU_on_its_original_driver_is_no_drift()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Service.Lease(Ask(gpus: 2));

        using var later = new LeaseTestHost(Topologies.DgxH100, null, host.Directory, host.Time);

        Assert.Equal(0, LeaseRegistration.Reconcile(later.Ledger, later.Host, later.Events, later.Logger, devicesBound: false));
    }

    [Fact]
    public void A_hugepage_pool_made_smaller_than_what_leases_hold_on_its_node_is_reported_for_each_of_them()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        Wire.Lease a = host.Service.Lease(Ask(gpus: 1));
        Wire.Lease b = host.Service.Lease(Ask(gpus: 1));
        int node = Assert.Single(a.Nodes).Node;
        Assert.Equal(node, Assert.Single(b.Nodes).Node);

        // The node profile was changed meanwhile: 6 1G pages on that node, where the two leases hold 4 each.
        HostTopology shrunk = Topologies.DgxH100 with
        {
            NumaNodes = [.. Topologies.DgxH100.NumaNodes.Select(n => n.Id != node ? n : n with
            {
                Hugepages = [.. n.Hugepages.Select(p => p.PageSizeKiB == 1024 * 1024 ? p with { Total = 6, Free = 0 } : p)],
            })],
        };
        using var later = new LeaseTestHost(shrunk, null, host.Directory, host.Time);
        int found = LeaseRegistration.Reconcile(later.Ledger, later.Host, later.Events, later.Logger, devicesBound: false);

        Assert.Equal(2, found);
        Assert.Equal(
            new[] { a.Id, b.Id }.Order(StringComparer.Ordinal),
            later.Events.Recent().Where(e => e.Kind == "lease.drift").Select(e => e.Subject).Order(StringComparer.Ordinal));
        Assert.All(
            later.Events.Recent().Where(e => e.Kind == "lease.drift"),
            e => Assert.Equal($"node {node} has 6 1G hugepage(s) in its pool, but leases hold 8 there (4 by this lease)", e.Message));
        Assert.Equal(0, LeaseRegistration.Reconcile(host.Ledger, host.Host, host.Events, host.Logger, devicesBound: false));
    }
}
