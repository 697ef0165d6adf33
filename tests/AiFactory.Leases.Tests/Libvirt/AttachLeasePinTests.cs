using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>
/// The caller's <c>&lt;cputune&gt;</c> never puts a thread of the domain on CPUs outside the lease: I/O thread pins are
/// checked against the lease's CPUs, and a re-attach checks the caller's pins before taking the lease's own out.
/// </summary>
public sealed class AttachLeasePinTests
{
    private const ulong MiB = 1UL << 20;

    private static string DomainXml(string name, string cputune = "") =>
        $"<domain type='test'><name>{name}</name><memory unit='KiB'>1048576</memory><vcpu>1</vcpu><iothreads>1</iothreads>{cputune}" +
        "<os><type arch='x86_64'>hvm</type></os><devices/></domain>";

    private static Wire.Lease Lease(LeaseTestHost host) =>
        host.Service.Lease(new CreateLeaseRequest
        {
            Spec = new LeaseSpec { Owner = "vm", GpuCount = 1, Vcpus = 2, MemoryBytes = 512 * MiB, PageSize = LeasePageSize._2M, EmulatorThreads = EmulatorThreadPolicy.Isolate },
        });

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    private static AttachLeaseRequest ByXml(Wire.Lease lease, string xml) => new() { Id = lease.Id, DomainXml = xml, LibvirtUri = TestDriverHost.Uri };

    private static CpuSet Own(Wire.Lease lease) =>
        CpuSet.Of(lease.Nodes.SelectMany(n => n.VcpuCpus)).Union(CpuSet.Parse(lease.EmulatorCpus));

    [Fact]
    public void An_iothread_pin_on_another_leases_cpus_is_refused_and_nothing_is_defined()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease a = Lease(host);
        Wire.Lease b = Lease(host);
        string foreign = Own(b).ToString();
        string name = Unique("iothread");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByXml(a, DomainXml(name, $"<cputune><iothreadpin iothread='1' cpuset='{foreign}'/></cputune>"))));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal($"domain_xml: <iothreadpin iothread='1' cpuset='{foreign}'> in <cputune> is not within the lease's CPUs ({Own(a)}); pin I/O threads to those, or remove the pin", ex.Detail);
        Assert.Null(connection.Lookup(name));
    }

    [Fact]
    public void An_iothread_pin_within_the_leases_cpus_is_kept()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease lease = Lease(host);
        string own = CpuSet.Parse(lease.EmulatorCpus).ToString();
        string name = Unique("iothread-own");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);

        AttachLeaseResponse response = host.Service.AttachLease(ByXml(lease, DomainXml(name, $"<cputune><iothreadpin iothread='1' cpuset='{own}'/></cputune>")));

        Assert.Contains("<iothreadpin iothread=\"1\" cpuset=\"" + own + "\"", response.DomainXml.Replace('\'', '"'), StringComparison.Ordinal);
        using ILibvirtDomain domain = connection.Lookup(name)!;
        domain.Undefine();
    }

    [Fact]
    public void A_re_attach_refuses_the_callers_foreign_vcpu_pin_instead_of_dropping_it()
    {
        using var host = new LeaseTestHost(TestDriverHost.Build());
        Wire.Lease a = Lease(host);
        Wire.Lease b = Lease(host);
        int foreign = b.Nodes[0].VcpuCpus[0];
        string name = Unique("reattach");
        using ILibvirtConnection connection = new NativeLibvirt().Open(TestDriverHost.Uri);
        AttachLeaseResponse first = host.Service.AttachLease(ByXml(a, DomainXml(name)));

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.AttachLease(ByXml(a, DomainXml(name, $"<cputune><vcpupin vcpu='0' cpuset='{foreign}'/></cputune>"))));
        AttachLeaseResponse again = host.Service.AttachLease(ByXml(a, first.DomainXml));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal($"domain_xml: already pins vCPU 0 to {foreign} in <cputune>, which is not the lease's pin; remove the pins, the lease sets them", ex.Detail);
        Assert.Equal(first.DomainXml, again.DomainXml);
        using ILibvirtDomain domain = connection.Lookup(name)!;
        domain.Undefine();
    }
}
