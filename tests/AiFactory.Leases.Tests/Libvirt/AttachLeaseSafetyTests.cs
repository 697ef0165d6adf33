using System.Xml.Linq;
using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>
/// AttachLease never hands a device out twice, never half-applies to a running domain, and puts the previous definition
/// back when it fails after defining: against libvirt's in-process test driver, with one call made to fail where needed.
/// </summary>
public sealed class AttachLeaseSafetyTests
{
    private const ulong MiB = 1UL << 20;

    private static string DomainXml(string name, int vcpus = 1, string devices = "") =>
        $"<domain type='test'><name>{name}</name><memory unit='KiB'>1048576</memory><vcpu>{vcpus}</vcpu><os><type arch='x86_64'>hvm</type></os><devices>{devices}</devices></domain>";

    private static string Hostdev(string address, string managed = "yes")
    {
        string[] p = address.Split(':', '.');
        return $"<hostdev mode='subsystem' type='pci' managed='{managed}'><source><address domain='0x{p[0]}' bus='0x{p[1]}' slot='0x{p[2]}' function='0x{p[3]}'/></source></hostdev>";
    }

    private static Wire.Lease Lease(LeaseTestHost host, uint vcpus = 4, uint vfs = 1) =>
        host.Service.Lease(new CreateLeaseRequest
        {
            Spec = new LeaseSpec { Owner = "vm", GpuCount = 1, VfCount = vfs, Vcpus = vcpus, MemoryBytes = 512 * MiB, PageSize = LeasePageSize._2M, EmulatorThreads = EmulatorThreadPolicy.Isolate },
        });

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private static AttachLeaseRequest ByXml(Wire.Lease lease, string xml, bool start = false) =>
        new() { Id = lease.Id, DomainXml = xml, LibvirtUri = TestDriverHost.Uri, Start = start };

    private static AttachLeaseRequest ByName(Wire.Lease lease, string name, bool start = false) =>
        new() { Id = lease.Id, DomainName = name, LibvirtUri = TestDriverHost.Uri, Start = start };

    private static ILibvirtDomain Running(ILibvirtConnection connection, string name, int vcpus)
    {
        ILibvirtDomain domain = connection.Define(DomainXml(name, vcpus));
        domain.Create();
        return domain;
    }

    private static void Remove(ILibvirtConnection connection, string name)
    {
        using ILibvirtDomain? domain = connection.Lookup(name);
        if (domain is null)
        {
            return;
        }

        if (domain.IsActive)
        {
            domain.Destroy();
        }

        if (domain.IsPersistent)
        {
            domain.Undefine();
        }
    }

    [Fact]
    public void A_device_of_another_lease_in_the_callers_xml_is_refused_and_nothing_is_defined()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease a = Lease(host, vfs: 0);
        Wire.Lease b = Lease(host, vfs: 0);
        string foreign = b.Devices[0].Address;
        string name = Unique("foreign");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByXml(a, DomainXml(name, devices: Hostdev(foreign)))));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith($"domain_xml: <hostdev> passes through PCI {foreign}, which this lease does not hold", ex.Detail, StringComparison.Ordinal);
        Assert.Null(connection.Lookup(name));
        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = a.Id }).State);
    }

    [Fact]
    public void The_leases_own_device_written_managed_by_the_caller_comes_out_once_and_unmanaged()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string gpu = lease.Devices.First(d => d.Role == LeasedDeviceRole.Gpu).Address;
        string name = Unique("own");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);

        host.Service.AttachLease(ByXml(lease, DomainXml(name, devices: Hostdev(gpu, managed: "yes"))));

        using ILibvirtDomain domain = connection.Lookup(name)!;
        XDocument xml = XDocument.Parse(domain.GetXml(inactive: true));
        Assert.Equal(lease.Devices.Select(d => d.Address).Order(), LeaseDomainXml.Hostdevs(xml).Order());
        Assert.All(xml.Descendants("hostdev"), h => Assert.Equal("no", (string?)h.Attribute("managed")));
        domain.Undefine();
    }

    [Fact]
    public void A_lease_attached_to_one_domain_is_refused_for_another_naming_the_first()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string vm1 = Unique("vm1");
        string vm9 = Unique("vm9");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        host.Service.AttachLease(ByXml(lease, DomainXml(vm1)));

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByXml(lease, DomainXml(vm9))));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.StartsWith($"id: lease {lease.Id} is already attached to domain \"{vm1}\"", ex.Detail, StringComparison.Ordinal);
        Assert.Null(connection.Lookup(vm9));
        Assert.Equal(vm1, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).Domain);
        Remove(connection, vm1);
    }

    [Fact]
    public void Attaching_a_lease_again_to_its_own_domain_by_name_gives_the_same_definition()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string name = Unique("again");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        AttachLeaseResponse first = host.Service.AttachLease(ByXml(lease, DomainXml(name)));

        AttachLeaseResponse second = host.Service.AttachLease(ByName(lease, name));

        Assert.Equal(XDocument.Parse(first.DomainXml).ToString(), XDocument.Parse(second.DomainXml).ToString());
        Assert.Equal(name, second.Lease.Domain);
        Remove(connection, name);
    }

    [Theory]
    [InlineData(4, 2)]
    [InlineData(1, 2)]
    public void A_running_domain_whose_vcpus_differ_from_the_lease_is_refused_before_anything_changes(uint leaseVcpus, int domainVcpus)
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host, vcpus: leaseVcpus);
        string name = Unique("running");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        using ILibvirtDomain domain = Running(connection, name, domainVcpus);
        string before = domain.GetXml(inactive: true);
        string liveBefore = domain.GetXml();

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByName(lease, name)));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal(
            $"domain_name: domain \"{name}\" is running with {domainVcpus} vCPU(s) and the lease has {leaseVcpus}: its vCPUs cannot all take the lease's pins while it runs; shut it down and attach again (nothing was changed)",
            ex.Detail);
        Assert.Equal(before, domain.GetXml(inactive: true));
        Assert.Equal(liveBefore, domain.GetXml());
        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        Remove(connection, name);
    }

    [Fact]
    public void A_running_domain_with_the_leases_vcpus_is_pinned_live_and_the_reply_says_the_rest_waits_for_a_start()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host, vcpus: 4);
        string name = Unique("live");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        using ILibvirtDomain domain = Running(connection, name, 4);

        AttachLeaseResponse response = host.Service.AttachLease(ByName(lease, name, start: true));

        Assert.True(response.PendingRestart);
        Assert.Contains("the devices, memory, hugepages and guest NUMA topology take effect when it is next started", response.Note, StringComparison.Ordinal);
        XDocument live = XDocument.Parse(domain.GetXml());
        int[] cpus = [.. lease.Nodes.SelectMany(n => n.VcpuCpus)];
        for (int i = 0; i < cpus.Length; i++)
        {
            string cpuset = (string)live.Descendants("vcpupin").Single(p => (int)p.Attribute("vcpu")! == i).Attribute("cpuset")!;
            Assert.Equal(CpuSet.Of(cpus[i]), CpuSet.Parse(cpuset));
        }

        Assert.Equal(CpuSet.Parse(lease.EmulatorCpus), CpuSet.Parse((string)live.Descendants("emulatorpin").Single().Attribute("cpuset")!));
        Assert.Equal(lease.Devices.Count, LeaseDomainXml.Hostdevs(XDocument.Parse(domain.GetXml(inactive: true))).Count);
        Assert.Equal(Wire.LeaseState.Attached, response.Lease.State);
        Remove(connection, name);
    }

    [Fact]
    public void A_live_pin_that_fails_halfway_puts_back_the_definition_and_the_pins_it_changed()
    {
        var libvirt = new FaultyLibvirt { FailOn = "pin vCPU 2" };
        using var host = new LeaseTestHost(TestDriverHost.Build(), libvirt: libvirt);
        Wire.Lease lease = Lease(host, vcpus: 4);
        string name = Unique("halfway");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        using ILibvirtDomain domain = Running(connection, name, 4);
        string before = domain.GetXml(inactive: true);
        var pinsBefore = LiveVcpuPins(domain, 4);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByName(lease, name)));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.StartsWith($"libvirt_uri: pin vCPU 2 of {name}: injected failure; the previous definition was put back", ex.Detail, StringComparison.Ordinal);
        Assert.Equal(before, domain.GetXml(inactive: true));
        Assert.Equal(pinsBefore, LiveVcpuPins(domain, 4));
        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        Assert.Empty(host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).Domain);
        Remove(connection, name);
    }

    [Fact]
    public void A_start_that_fails_puts_back_the_definition_of_a_domain_found_by_name()
    {
        var libvirt = new FaultyLibvirt { FailOn = "start" };
        using var host = new LeaseTestHost(TestDriverHost.Build(), libvirt: libvirt);
        Wire.Lease lease = Lease(host);
        string name = Unique("nostart");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        connection.Define(DomainXml(name)).Dispose();
        string before = connection.Lookup(name)!.GetXml(inactive: true);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByName(lease, name, start: true)));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.Equal($"start: libvirt could not start \"{name}\": start of {name}: injected failure; the previous definition was put back", ex.Detail);
        using ILibvirtDomain domain = connection.Lookup(name)!;
        Assert.Equal(before, domain.GetXml(inactive: true));
        Assert.False(domain.IsActive);
        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
        domain.Undefine();
    }

    [Fact]
    public void A_start_that_fails_removes_the_domain_the_attach_defined_from_the_callers_xml()
    {
        var libvirt = new FaultyLibvirt { FailOn = "start" };
        using var host = new LeaseTestHost(TestDriverHost.Build(), libvirt: libvirt);
        Wire.Lease lease = Lease(host);
        string name = Unique("fresh");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByXml(lease, DomainXml(name), start: true)));

        Assert.EndsWith("; the definition it made was removed", ex.Detail, StringComparison.Ordinal);
        Assert.Null(connection.Lookup(name));
    }

    [Fact]
    public void A_definition_libvirt_refuses_is_invalid_argument_naming_domain_xml()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string name = Unique("refused");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByXml(lease, DomainXml(name).Replace("x86_64", "no-such-arch", StringComparison.Ordinal))));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith($"domain_xml: libvirt refused the definition of \"{name}\" with the lease merged in: ", ex.Detail, StringComparison.Ordinal);
        Assert.Null(connection.Lookup(name));
    }

    [Fact]
    public void A_hostdev_address_that_is_not_a_number_is_invalid_argument_naming_domain_xml()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string xml = DomainXml(Unique("badbus"), devices: "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0xzz' slot='0x00' function='0x0'/></source></hostdev>");

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByXml(lease, xml)));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("domain_xml: <hostdev> source address bus='0xzz' is not a PCI bus number", ex.Detail);
    }

    /// <summary>The host CPUs each vCPU may run on now: its live pin, or every host CPU when it has none.</summary>
    private static List<(int Vcpu, CpuSet Cpus)> LiveVcpuPins(ILibvirtDomain domain, int vcpus)
    {
        CpuSet all = TestDriverHost.Build().Cpus.Online;
        XDocument live = XDocument.Parse(domain.GetXml());
        return [.. Enumerable.Range(0, vcpus).Select(i => (i, live.Descendants("vcpupin").FirstOrDefault(p => (int)p.Attribute("vcpu")! == i) is { } pin
            ? CpuSet.Parse((string)pin.Attribute("cpuset")!)
            : all))];
    }
}
