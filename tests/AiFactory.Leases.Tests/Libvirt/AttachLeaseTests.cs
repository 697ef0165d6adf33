using System.Xml.Linq;
using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>AttachLease against libvirt's in-process test driver: what it defines and starts is exactly the lease.</summary>
public sealed class AttachLeaseTests
{
    private const ulong MiB = 1UL << 20;

    private static string DomainXml(string name) =>
        $"<domain type='test'><name>{name}</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices/></domain>";

    private static Wire.Lease LeaseOneGpu(LeaseTestHost host, LeasePageSize page = LeasePageSize._2M, ulong memory = 512 * MiB, EmulatorThreadPolicy emulator = EmulatorThreadPolicy.Isolate) =>
        host.Service.Lease(new CreateLeaseRequest
        {
            Spec = new LeaseSpec { Owner = "vm", GpuCount = 1, VfCount = 1, Vcpus = 4, MemoryBytes = memory, PageSize = page, EmulatorThreads = emulator },
        });

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public void The_started_domain_carries_exactly_the_lease_devices_pins_and_pages()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = LeaseOneGpu(host);
        string name = Unique("attach");

        // test:///default keeps its state only while a connection is open: hold one across the call.
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        AttachLeaseResponse response = host.Service.AttachLease(new AttachLeaseRequest { Id = lease.Id, DomainXml = DomainXml(name), LibvirtUri = TestDriverHost.Uri, Start = true });

        Assert.Equal(XDocument.Parse(response.DomainXml).ToString(), XDocument.Parse(connection.Lookup(name)!.GetXml()).ToString());
        using ILibvirtDomain domain = connection.Lookup(name)!;
        Assert.True(domain.IsActive);
        XDocument xml = XDocument.Parse(domain.GetXml());
        Assert.Equal(lease.Devices.Select(d => d.Address).Order(), LeaseDomainXml.Hostdevs(xml).Order());
        Assert.All(xml.Descendants("hostdev"), h => Assert.Equal("no", (string?)h.Attribute("managed")));
        var pins = xml.Descendants("vcpupin").Select(p => ((int)p.Attribute("vcpu")!, (string)p.Attribute("cpuset")!)).ToList();
        Assert.Equal(lease.Nodes.SelectMany(n => n.VcpuCpus).Select((cpu, i) => (i, cpu.ToString(System.Globalization.CultureInfo.InvariantCulture))), pins);
        Assert.Equal(lease.EmulatorCpus, (string)xml.Descendants("emulatorpin").Single().Attribute("cpuset")!);
        Assert.Equal("4", xml.Root!.Element("vcpu")!.Value);
        var memnodes = xml.Descendants("memnode").Select(m => ((int)m.Attribute("cellid")!, (int)m.Attribute("nodeset")!)).ToList();
        Assert.Equal(lease.Nodes.Select((n, i) => (i, n.Node)), memnodes);
        XElement page = xml.Descendants("hugepages").Single().Element("page")!;
        Assert.Equal("2048", (string)page.Attribute("size")!);
        var cells = xml.Descendants("numa").Single().Elements("cell").ToList();
        Assert.Equal(lease.Nodes.Count, cells.Count);
        Assert.Equal(lease.Nodes.Sum(n => (long)n.MemoryBytes) / 1024, cells.Sum(c => (long)c.Attribute("memory")!));
        Assert.Equal(Wire.LeaseState.Attached, response.Lease.State);
        Assert.Equal(name, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).Domain);
        Assert.Contains(host.Events.Recent(), e => e.Kind == "lease.attached" && e.Subject == lease.Id);
        domain.Destroy();
        domain.Undefine();
    }

    [Fact]
    public void A_defined_domain_found_by_name_gets_the_lease_without_being_started()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = LeaseOneGpu(host, LeasePageSize._1G, 1024 * MiB, EmulatorThreadPolicy.Share);
        string name = Unique("byname");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        connection.Define(DomainXml(name)).Dispose();

        AttachLeaseResponse response = host.Service.AttachLease(new AttachLeaseRequest { Id = lease.Id, DomainName = name, LibvirtUri = TestDriverHost.Uri });

        using ILibvirtDomain domain = connection.Lookup(name)!;
        Assert.False(domain.IsActive);
        XDocument xml = XDocument.Parse(domain.GetXml(inactive: true));
        Assert.Equal("1048576", (string)xml.Descendants("hugepages").Single().Element("page")!.Attribute("size")!);
        Assert.Equal(lease.EmulatorCpus, (string)xml.Descendants("emulatorpin").Single().Attribute("cpuset")!);
        Assert.Equal(lease.Devices.Count, LeaseDomainXml.Hostdevs(xml).Count);
        Assert.Equal(name, response.Lease.Domain);
        domain.Undefine();
    }

    [Theory]
    [InlineData("<domain type='test'><name>x</name>", "domain_xml: not XML")]
    [InlineData("<vm/>", "domain_xml: the root element is <vm>")]
    [InlineData("<domain type='test'><name>x</name><cputune><vcpupin vcpu='0' cpuset='3'/></cputune></domain>", "domain_xml: already pins vCPU 0 to 3")]
    [InlineData("<domain type='test'><name>x</name><numatune><memory nodeset='1'/></numatune></domain>", "domain_xml: already has <numatune>")]
    public void Domain_xml_that_is_bad_or_conflicts_is_refused_and_the_lease_stays_unattached(string xml, string expected)
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = LeaseOneGpu(host);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(new AttachLeaseRequest { Id = lease.Id, DomainXml = xml, LibvirtUri = TestDriverHost.Uri }));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(expected, ex.Detail, StringComparison.Ordinal);
        Assert.Equal(Wire.LeaseState.Active, host.Service.GetLease(new GetLeaseRequest { Id = lease.Id }).State);
    }

    [Fact]
    public void Attaching_an_unknown_lease_is_not_found()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(new AttachLeaseRequest { Id = "lease-nope", DomainXml = DomainXml("x"), LibvirtUri = TestDriverHost.Uri }));

        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Equal("id: no active lease \"lease-nope\"", ex.Detail);
    }

    [Fact]
    public void Live_pinning_moves_a_running_domains_vcpus()
    {
        string name = Unique("live");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        using ILibvirtDomain domain = connection.Define(DomainXml(name).Replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>", StringComparison.Ordinal));
        domain.Create();

        domain.PinVcpu(1, CpuSet.Of(5));
        domain.PinEmulator(CpuSet.Of(6, 7));

        XDocument xml = XDocument.Parse(domain.GetXml());
        Assert.Equal("5", (string)xml.Descendants("vcpupin").Single(p => (string?)p.Attribute("vcpu") == "1").Attribute("cpuset")!);
        Assert.Equal("6-7", (string)xml.Descendants("emulatorpin").Single().Attribute("cpuset")!);
        domain.Destroy();
        domain.Undefine();
    }
}
