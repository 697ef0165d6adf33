using System.Xml.Linq;
using AiFactory.Agent.Leases;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Model.Leases;
using AiFactory.Leases.Tests.Planning;

namespace AiFactory.Leases.Tests.Libvirt;

/// <summary>The merge itself, on inline XML: what a caller's domain may pass through, and how it is read.</summary>
public sealed class LeaseDomainXmlTests
{
    private static LeasePlan OneGpuOneVf(out string gpu, out string vf)
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        string id = host.Service.Lease(new CreateLeaseRequest { Spec = new LeaseSpec { Owner = "vm", GpuCount = 1, VfCount = 1, Vcpus = 2, MemoryBytes = 1UL << 30 } }).Id;
        LeasePlan plan = host.Ledger.Get(id)!.Lease.Plan;
        gpu = plan.Devices.First(d => d.Role == DeviceRole.Gpu).Address.ToString();
        vf = plan.Devices.First(d => d.Role == DeviceRole.VirtualFunction).Address.ToString();
        return plan;
    }

    private static XDocument Domain(string devices) =>
        XDocument.Parse($"<domain type='kvm'><name>x</name><vcpu>1</vcpu><devices>{devices}</devices></domain>");

    private static string Address(string pci, string type = "")
    {
        string[] p = pci.Split(':', '.');
        return $"<address{type} domain='0x{p[0]}' bus='0x{p[1]}' slot='0x{p[2]}' function='0x{p[3]}'/>";
    }

    [Fact]
    public void A_vf_of_another_tenant_given_as_a_hostdev_interface_is_refused()
    {
        LeasePlan plan = OneGpuOneVf(out _, out _);
        const string other = "0000:c1:00.3";
        XDocument doc = Domain($"<interface type='hostdev' managed='yes'><source>{Address(other, " type='pci'")}</source></interface>");

        RpcException ex = Assert.Throws<RpcException>(() => LeaseDomainXml.Merge(doc, plan));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith($"domain_xml: <interface> passes through PCI {other}, which this lease does not hold", ex.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_leases_own_vf_given_as_a_hostdev_interface_is_kept_unmanaged_and_not_added_twice()
    {
        LeasePlan plan = OneGpuOneVf(out string gpu, out string vf);
        XDocument doc = Domain($"<interface type='hostdev' managed='yes'><mac address='52:54:00:6d:90:02'/><source>{Address(vf, " type='pci'")}</source></interface>");

        LeaseDomainXml.Merge(doc, plan);

        XElement nic = doc.Descendants("interface").Single();
        Assert.Equal("no", (string?)nic.Attribute("managed"));
        Assert.NotNull(nic.Element("mac"));
        Assert.Contains(gpu, LeaseDomainXml.Hostdevs(doc));
        Assert.DoesNotContain(vf, LeaseDomainXml.Hostdevs(doc));
        Assert.Equal(plan.Devices.Count, LeaseDomainXml.PciPassthroughs(doc.Root!).Count);
    }

    [Fact]
    public void A_passthrough_in_a_vmd_domain_above_ffff_is_read_as_libvirt_reads_it()
    {
        // libvirt's schema takes a 32-bit PCI domain (pciDomain is uint32): Intel VMD puts NVMe drives in 10000 and up.
        XDocument doc = Domain("<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x10000' bus='0x01' slot='0x00' function='0x0'/></source></hostdev>");

        Assert.Equal(["10000:01:00.0"], LeaseDomainXml.Hostdevs(doc));
        Assert.Equal("10000:01:00.0", Assert.Single(LeaseDomainXml.PciPassthroughs(doc.Root!)).Address.ToString());
    }

    [Fact]
    public void A_source_address_in_octal_is_read_as_libvirt_reads_it()
    {
        LeasePlan plan = OneGpuOneVf(out string gpu, out _);
        var address = Host.Model.Pci.PciAddress.Parse(gpu);
        string octal = "0" + Convert.ToString(address.Bus, 8);
        XDocument doc = Domain($"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0' bus='{octal}' slot='{address.Device}' function='{address.Function}'/></source></hostdev>");

        LeaseDomainXml.Merge(doc, plan);

        Assert.Equal("no", (string?)doc.Descendants("hostdev").First().Attribute("managed"));
        Assert.Equal(plan.Devices.Count, doc.Descendants("hostdev").Count());
    }

    [Fact]
    public void An_iothread_pin_written_with_a_libvirt_exclusion_is_checked_by_the_cpus_it_selects()
    {
        LeasePlan plan = OneGpuOneVf(out _, out _);
        int first = plan.VcpuPins[0];
        int next = first + 1;
        while (plan.VcpuPins.Contains(next) || plan.EmulatorCpus.Contains(next))
        {
            next++;
        }

        // first..next with next excluded is the lease's own CPU; without the exclusion it is also another CPU.
        string within = $"{first}-{next},^{next}";
        for (int c = first + 1; c < next; c++)
        {
            within += $",^{c}";
        }

        XDocument ok = Domain(string.Empty);
        ok.Root!.Add(XElement.Parse($"<cputune><iothreadpin iothread='1' cpuset='{within}'/></cputune>"));
        XDocument outside = Domain(string.Empty);
        outside.Root!.Add(XElement.Parse($"<cputune><iothreadpin iothread='1' cpuset='{first}-{next}'/></cputune>"));

        LeaseDomainXml.Merge(ok, plan);
        RpcException ex = Assert.Throws<RpcException>(() => LeaseDomainXml.Merge(outside, plan));

        Assert.Equal(within, (string?)ok.Descendants("iothreadpin").Single().Attribute("cpuset"));
        Assert.StartsWith($"domain_xml: <iothreadpin iothread='1' cpuset='{first}-{next}'> in <cputune> is not within the lease's CPUs", ex.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pin_cpuset_that_is_not_a_libvirt_cpu_list_is_refused_naming_the_value()
    {
        LeasePlan plan = OneGpuOneVf(out _, out _);
        XDocument doc = Domain(string.Empty);
        doc.Root!.Add(XElement.Parse("<cputune><iothreadpin iothread='1' cpuset='0-3,^x'/></cputune>"));

        RpcException ex = Assert.Throws<RpcException>(() => LeaseDomainXml.Merge(doc, plan));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal(
            "domain_xml: <iothreadpin iothread='1' cpuset='0-3,^x'> in <cputune>: cpuset \"0-3,^x\" is not a libvirt CPU list: \"^x\" excludes no single CPU id (^N, N in 0..8191)",
            ex.Detail);
    }

    [Fact]
    public void A_re_attach_takes_the_leases_own_pins_written_with_libvirt_exclusions_as_its_own()
    {
        LeasePlan plan = OneGpuOneVf(out _, out _);
        int pin = plan.VcpuPins[0];
        string emulator = plan.EmulatorCpus.ToString();
        XDocument doc = Domain(string.Empty);
        doc.Root!.Add(XElement.Parse(
            $"<cputune><vcpupin vcpu='0' cpuset='{pin}-{pin + 1},^{pin + 1}'/><emulatorpin cpuset='{emulator},^{plan.EmulatorCpus.First()},{plan.EmulatorCpus.First()}'/></cputune>"));
        XDocument foreign = Domain(string.Empty);
        foreign.Root!.Add(XElement.Parse($"<cputune><vcpupin vcpu='0' cpuset='{pin}-{pin + 1},^{pin}'/></cputune>"));

        LeaseDomainXml.CheckOwnPins(doc, plan);
        RpcException ex = Assert.Throws<RpcException>(() => LeaseDomainXml.CheckOwnPins(foreign, plan));

        Assert.Equal($"domain_xml: already pins vCPU 0 to {pin}-{pin + 1},^{pin} in <cputune>, which is not the lease's pin; remove the pins, the lease sets them", ex.Detail);
    }
}
