using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using AiFactory.Grpc;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Merges a lease into a libvirt domain XML: a <c>&lt;hostdev mode='subsystem' type='pci' managed='no'&gt;</c> per device,
/// <c>&lt;cputune&gt;</c> vcpupin/emulatorpin, <c>&lt;numatune&gt;</c> memnodes, hugepages per guest cell, and a guest NUMA
/// topology with one cell per host node used. Pure: XML in, XML out. Pins or NUMA settings the caller already wrote are a
/// conflict (the lease owns them), reported as InvalidArgument naming <c>domain_xml</c>.
/// </summary>
internal static class LeaseDomainXml
{
    /// <summary>Parses the caller's XML or throws InvalidArgument naming <c>domain_xml</c>.</summary>
    public static XDocument Parse(string xml)
    {
        try
        {
            XDocument doc = XDocument.Parse(xml, LoadOptions.None);
            if (doc.Root?.Name.LocalName != "domain")
            {
                throw Invalid($"the root element is <{doc.Root?.Name.LocalName}>, not <domain>");
            }

            return doc;
        }
        catch (XmlException ex)
        {
            throw Invalid($"not XML: {ex.Message}");
        }
    }

    /// <summary>The domain's name (<c>&lt;name&gt;</c>), or throws InvalidArgument.</summary>
    public static string NameOf(XDocument doc) =>
        doc.Root!.Element("name")?.Value is { Length: > 0 } name ? name : throw Invalid("<domain> has no <name>");

    /// <summary>Merges <paramref name="plan"/> into <paramref name="doc"/> in place.</summary>
    public static void Merge(XDocument doc, LeasePlan plan)
    {
        XElement domain = doc.Root!;
        CheckConflicts(domain, plan);
        int vcpus = plan.VcpuPins.Count;
        long memoryKiB = plan.MemoryBytes / 1024;

        SetValue(domain, "memory", memoryKiB.ToString(CultureInfo.InvariantCulture), ("unit", "KiB"));
        SetValue(domain, "currentMemory", memoryKiB.ToString(CultureInfo.InvariantCulture), ("unit", "KiB"));
        SetValue(domain, "vcpu", vcpus.ToString(CultureInfo.InvariantCulture), ("placement", "static"));

        var cputune = GetOrAdd(domain, "cputune");
        IReadOnlyList<int> pins = plan.VcpuPins;
        for (int i = 0; i < pins.Count; i++)
        {
            cputune.Add(new XElement("vcpupin", new XAttribute("vcpu", i), new XAttribute("cpuset", pins[i])));
        }

        if (!plan.EmulatorCpus.IsEmpty)
        {
            cputune.Add(new XElement("emulatorpin", new XAttribute("cpuset", plan.EmulatorCpus.ToString())));
        }

        string hostNodes = CpuSet.Of(plan.Nodes.Select(n => n.Node)).ToString();
        var numatune = new XElement("numatune", new XElement("memory", new XAttribute("mode", "strict"), new XAttribute("nodeset", hostNodes)));
        for (int cell = 0; cell < plan.Nodes.Count; cell++)
        {
            numatune.Add(new XElement("memnode", new XAttribute("cellid", cell), new XAttribute("mode", "strict"), new XAttribute("nodeset", plan.Nodes[cell].Node)));
        }

        domain.Add(numatune);

        if (plan.PageSize != PageSize.Small4K)
        {
            XElement backing = GetOrAdd(domain, "memoryBacking");
            string cells = string.Join(",", Enumerable.Range(0, plan.Nodes.Count));
            backing.Add(new XElement("hugepages", new XElement("page",
                new XAttribute("size", plan.PageSize.KiB()), new XAttribute("unit", "KiB"), new XAttribute("nodeset", cells))));
        }

        XElement cpu = GetOrAdd(domain, "cpu");
        var numa = new XElement("numa");
        int next = 0;
        for (int cell = 0; cell < plan.Nodes.Count; cell++)
        {
            NodeAllocation n = plan.Nodes[cell];
            var element = new XElement("cell", new XAttribute("id", cell));
            if (n.VcpuCpus.Count > 0)
            {
                element.Add(new XAttribute("cpus", CpuSet.Of(Enumerable.Range(next, n.VcpuCpus.Count)).ToString()));
                next += n.VcpuCpus.Count;
            }

            element.Add(new XAttribute("memory", n.MemoryBytes / 1024), new XAttribute("unit", "KiB"));
            numa.Add(element);
        }

        cpu.Add(numa);

        XElement devices = GetOrAdd(domain, "devices");
        foreach (LeasedDevice d in plan.Devices)
        {
            if (FindHostdev(devices, d) is not null)
            {
                continue;
            }

            devices.Add(new XElement("hostdev",
                new XAttribute("mode", "subsystem"), new XAttribute("type", "pci"), new XAttribute("managed", "no"),
                new XElement("source", new XElement("address",
                    new XAttribute("domain", Hex(d.Address.Domain, 4)), new XAttribute("bus", Hex(d.Address.Bus, 2)),
                    new XAttribute("slot", Hex(d.Address.Device, 2)), new XAttribute("function", Hex(d.Address.Function, 1))))));
        }
    }

    /// <summary>The PCI addresses of a domain's <c>hostdev type='pci'</c> sources, in kernel form.</summary>
    public static IReadOnlyList<string> Hostdevs(XDocument doc) =>
        [.. doc.Descendants("hostdev").Where(h => (string?)h.Attribute("type") == "pci")
            .Select(h => h.Element("source")?.Element("address")).OfType<XElement>()
            .Select(a => string.Create(CultureInfo.InvariantCulture,
                $"{ParseHex(a, "domain"):x4}:{ParseHex(a, "bus"):x2}:{ParseHex(a, "slot"):x2}.{ParseHex(a, "function"):x1}"))];

    private static void CheckConflicts(XElement domain, LeasePlan plan)
    {
        if (domain.Element("cputune") is { } tune)
        {
            if (tune.Element("vcpupin") is { } pin)
            {
                throw Invalid($"already pins vCPU {(string?)pin.Attribute("vcpu")} to {(string?)pin.Attribute("cpuset")} in <cputune>; remove the pins, the lease sets them");
            }

            if (tune.Element("emulatorpin") is not null)
            {
                throw Invalid("already has <emulatorpin> in <cputune>; remove it, the lease sets it");
            }
        }

        if (domain.Element("numatune") is not null)
        {
            throw Invalid("already has <numatune>; remove it, the lease sets it");
        }

        if (domain.Element("cpu")?.Element("numa") is not null)
        {
            throw Invalid("already has a guest NUMA topology (<cpu><numa>); remove it, the lease sets it");
        }

        if (domain.Element("memoryBacking")?.Element("hugepages") is not null)
        {
            throw Invalid("already has <memoryBacking><hugepages>; remove it, the lease sets it");
        }

        if (domain.Element("vcpu") is { } vcpu && (string?)vcpu.Attribute("cpuset") is { Length: > 0 } cpuset)
        {
            throw Invalid($"<vcpu cpuset='{cpuset}'> conflicts with the lease's per-vCPU pins; remove the cpuset");
        }

        _ = plan;
    }

    private static XElement? FindHostdev(XElement devices, LeasedDevice d) =>
        devices.Elements("hostdev").FirstOrDefault(h => h.Element("source")?.Element("address") is { } a &&
            ParseHex(a, "domain") == d.Address.Domain && ParseHex(a, "bus") == d.Address.Bus &&
            ParseHex(a, "slot") == d.Address.Device && ParseHex(a, "function") == d.Address.Function);

    private static int ParseHex(XElement address, string attribute)
    {
        string? s = (string?)address.Attribute(attribute);
        if (s is null)
        {
            return 0;
        }

        return s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? int.Parse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)
            : int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture);
    }

    private static string Hex(int value, int digits) => "0x" + value.ToString("x" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static XElement GetOrAdd(XElement parent, string name)
    {
        XElement? e = parent.Element(name);
        if (e is null)
        {
            e = new XElement(name);
            parent.Add(e);
        }

        return e;
    }

    private static void SetValue(XElement parent, string name, string value, params (string Name, string Value)[] attributes)
    {
        XElement e = GetOrAdd(parent, name);
        e.RemoveAttributes();
        foreach ((string n, string v) in attributes)
        {
            e.SetAttributeValue(n, v);
        }

        e.Value = value;
    }

    private static RpcException Invalid(string why) => new(StatusCode.InvalidArgument, $"domain_xml: {why}");
}
