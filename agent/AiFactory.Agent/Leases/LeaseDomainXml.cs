using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using AiFactory.Grpc;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Merges a lease into a libvirt domain XML: a <c>&lt;hostdev mode='subsystem' type='pci' managed='no'&gt;</c> per device,
/// <c>&lt;cputune&gt;</c> vcpupin/emulatorpin, <c>&lt;numatune&gt;</c> memnodes, hugepages per guest cell, and a guest NUMA
/// topology with one cell per host node used. Pure: XML in, XML out. Pins or NUMA settings the caller already wrote are a
/// conflict (the lease owns them), and so is any PCI device passed through (<c>&lt;hostdev type='pci'&gt;</c> or
/// <c>&lt;interface type='hostdev'&gt;</c>) that the lease does not hold: both are InvalidArgument naming <c>domain_xml</c>.
/// A passthrough of one of the lease's own devices that the caller wrote is kept (its guest address, ROM settings, MAC)
/// and made <c>managed='no'</c>: the agent, not libvirt, moves the lease's devices between drivers.
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
            if (PciPassthroughs(domain).FirstOrDefault(p => p.Address == d.Address).Element is { } written)
            {
                written.SetAttributeValue("managed", "no");
                continue;
            }

            devices.Add(new XElement("hostdev",
                new XAttribute("mode", "subsystem"), new XAttribute("type", "pci"), new XAttribute("managed", "no"),
                new XElement("source", new XElement("address",
                    new XAttribute("domain", Hex(d.Address.Domain, 4)), new XAttribute("bus", Hex(d.Address.Bus, 2)),
                    new XAttribute("slot", Hex(d.Address.Device, 2)), new XAttribute("function", Hex(d.Address.Function, 1))))));
        }
    }

    /// <summary>
    /// Before a re-attach strips the lease's own pins from the caller's XML: a <c>vcpupin</c> or <c>emulatorpin</c> that is
    /// not the lease's own (another CPU, a vCPU the lease does not have) is refused as on a first attach, never dropped.
    /// </summary>
    public static void CheckOwnPins(XDocument doc, LeasePlan plan)
    {
        if (doc.Root!.Element("cputune") is not { } tune)
        {
            return;
        }

        foreach (XElement pin in tune.Elements("vcpupin"))
        {
            string vcpu = (string?)pin.Attribute("vcpu") ?? string.Empty;
            string cpuset = (string?)pin.Attribute("cpuset") ?? string.Empty;
            CpuSet cpus = PinCpus(pin, $"<vcpupin vcpu='{vcpu}' cpuset='{cpuset}'>");
            bool own = int.TryParse(vcpu, NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i < plan.VcpuPins.Count &&
                cpus.Equals(CpuSet.Of(plan.VcpuPins[i]));
            if (!own)
            {
                throw Invalid($"already pins vCPU {vcpu} to {cpuset} in <cputune>, which is not the lease's pin; remove the pins, the lease sets them");
            }
        }

        foreach (XElement pin in tune.Elements("emulatorpin"))
        {
            string cpuset = (string?)pin.Attribute("cpuset") ?? string.Empty;
            if (!PinCpus(pin, $"<emulatorpin cpuset='{cpuset}'>").Equals(plan.EmulatorCpus))
            {
                throw Invalid($"already has <emulatorpin cpuset='{cpuset}'> in <cputune>, which is not the lease's ({plan.EmulatorCpus}); remove it, the lease sets it");
            }
        }
    }

    /// <summary>
    /// The CPUs a caller's pin element's <c>cpuset</c> selects, read as libvirt reads it (<see cref="LibvirtCpuset"/>:
    /// ranges, <c>^N</c> exclusions); one that selects none or does not parse is InvalidArgument naming
    /// <paramref name="shown"/> and the value.
    /// </summary>
    private static CpuSet PinCpus(XElement pin, string shown) =>
        LibvirtCpuset.TryParse((string?)pin.Attribute("cpuset") ?? string.Empty, out CpuSet? cpus, out string? error)
            ? cpus
            : throw Invalid($"{shown} in <cputune>: {error}");

    /// <summary>
    /// Takes out what <see cref="Merge"/> put in except the devices (which <see cref="Merge"/> finds and keeps): the pins,
    /// <c>&lt;numatune&gt;</c>, the guest NUMA cells and the hugepage backing. Used before merging a lease again into the
    /// domain it is already attached to, so that attaching twice gives the same definition as attaching once.
    /// </summary>
    public static void Strip(XDocument doc)
    {
        XElement domain = doc.Root!;
        domain.Element("cputune")?.Elements().Where(e => e.Name.LocalName is "vcpupin" or "emulatorpin").Remove();
        domain.Elements("numatune").Remove();
        domain.Element("cpu")?.Elements("numa").Remove();
        domain.Element("memoryBacking")?.Elements("hugepages").Remove();
    }

    /// <summary>
    /// Takes a released lease out of its domain's definition: what <see cref="Strip"/> takes, and the passthrough of each
    /// of the lease's devices, so that starting the domain later cannot take devices that may have gone to another lease.
    /// </summary>
    public static void Detach(XDocument doc, LeasePlan plan)
    {
        Strip(doc);
        var held = plan.Devices.Select(d => d.Address).ToHashSet();
        foreach ((XElement element, PciAddress address) in PciPassthroughs(doc.Root!))
        {
            if (held.Contains(address))
            {
                element.Remove();
            }
        }
    }

    /// <summary>
    /// Every PCI function the domain passes through: each <c>&lt;hostdev type='pci'&gt;</c> and each
    /// <c>&lt;interface type='hostdev'&gt;</c> (an SR-IOV VF given as a NIC) with its source address. An address that does
    /// not parse is InvalidArgument naming <c>domain_xml</c>, the element and the value.
    /// </summary>
    public static IReadOnlyList<(XElement Element, PciAddress Address)> PciPassthroughs(XElement domain)
    {
        var found = new List<(XElement, PciAddress)>();
        foreach (XElement e in domain.Element("devices")?.Elements() ?? [])
        {
            bool passthrough = (e.Name.LocalName == "hostdev" && (string?)e.Attribute("type") == "pci") ||
                (e.Name.LocalName == "interface" && (string?)e.Attribute("type") == "hostdev");
            if (passthrough && e.Element("source")?.Element("address") is { } a && ((string?)a.Attribute("type") ?? "pci") == "pci")
            {
                found.Add((e, new PciAddress(
                    ParseHex(e, a, "domain", PciAddress.MaxDomain), (byte)ParseHex(e, a, "bus", 0xff), (byte)ParseHex(e, a, "slot", 0x1f), (byte)ParseHex(e, a, "function", 7))));
            }
        }

        return found;
    }

    /// <summary>The domain's vCPUs: the maximum (<c>&lt;vcpu&gt;</c>) and how many are online (its <c>current</c>, else the maximum).</summary>
    public static (int Max, int Current) Vcpus(XDocument doc)
    {
        XElement? vcpu = doc.Root!.Element("vcpu");
        int max = vcpu is not null && int.TryParse(vcpu.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int m) ? m : 1;
        int current = (string?)vcpu?.Attribute("current") is { } c && int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : max;
        return (max, current);
    }

    /// <summary>
    /// The host CPUs each vCPU and the emulator threads of a running domain may use now, from its live XML: its
    /// <c>vcpupin</c>/<c>emulatorpin</c>, else <c>&lt;vcpu cpuset&gt;</c>, else <paramref name="all"/> (unpinned). What a
    /// live attach puts back when it fails halfway.
    /// </summary>
    public static (IReadOnlyList<CpuSet> Vcpus, CpuSet Emulator) LivePins(XDocument live, int vcpus, CpuSet all)
    {
        XElement domain = live.Root!;
        CpuSet fallback = (string?)domain.Element("vcpu")?.Attribute("cpuset") is { Length: > 0 } set ? LibvirtCpuset.Parse(set) : all;
        XElement? tune = domain.Element("cputune");
        CpuSet Pin(XElement? e) => (string?)e?.Attribute("cpuset") is { Length: > 0 } cpus ? LibvirtCpuset.Parse(cpus) : fallback;
        var pins = new CpuSet[vcpus];
        for (int i = 0; i < vcpus; i++)
        {
            pins[i] = Pin(tune?.Elements("vcpupin").FirstOrDefault(p => (string?)p.Attribute("vcpu") == i.ToString(CultureInfo.InvariantCulture)));
        }

        return (pins, Pin(tune?.Element("emulatorpin")));
    }

    /// <summary>The PCI addresses of a domain's <c>hostdev type='pci'</c> sources, in kernel form.</summary>
    public static IReadOnlyList<string> Hostdevs(XDocument doc) =>
        [.. doc.Descendants("hostdev").Where(h => (string?)h.Attribute("type") == "pci")
            .Select(h => h.Element("source")?.Element("address")).OfType<XElement>()
            .Select(a => string.Create(CultureInfo.InvariantCulture,
                $"{ParseHex(a, a, "domain", PciAddress.MaxDomain):x4}:{ParseHex(a, a, "bus"):x2}:{ParseHex(a, a, "slot"):x2}.{ParseHex(a, a, "function"):x1}"))];

    private static void CheckConflicts(XElement domain, LeasePlan plan)
    {
        var held = plan.Devices.Select(d => d.Address).ToHashSet();
        foreach ((XElement element, PciAddress address) in PciPassthroughs(domain))
        {
            if (!held.Contains(address))
            {
                throw Invalid($"<{element.Name.LocalName}> passes through PCI {address}, which this lease does not hold; " +
                    "a domain gets only its lease's devices (remove it, or lease the device)");
            }
        }

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

            // I/O threads may run on the lease's own CPUs (its vCPUs' and emulator CPUs), never on another tenant's.
            CpuSet own = CpuSet.Of(plan.VcpuPins).Union(plan.EmulatorCpus);
            foreach (XElement ioPin in tune.Elements("iothreadpin"))
            {
                string ioCpuset = (string?)ioPin.Attribute("cpuset") ?? string.Empty;
                string shown = $"<iothreadpin iothread='{(string?)ioPin.Attribute("iothread")}' cpuset='{ioCpuset}'>";
                if (!PinCpus(ioPin, shown).IsSubsetOf(own))
                {
                    throw Invalid($"{shown} in <cputune> is not within the lease's CPUs ({own}); " +
                        "pin I/O threads to those, or remove the pin");
                }
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
    }

    /// <summary>
    /// One attribute of a PCI source address, read as libvirt reads it (<c>strtoul</c> base 0: <c>0x</c> hex, a leading
    /// <c>0</c> octal, else decimal); absent is 0. Anything else, or above <paramref name="max"/>, is InvalidArgument.
    /// </summary>
    private static int ParseHex(XElement owner, XElement address, string attribute, int max = 0xffff)
    {
        string? s = (string?)address.Attribute(attribute);
        if (s is null)
        {
            return 0;
        }

        bool ok;
        long value;
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            ok = long.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        }
        else if (s.Length > 1 && s[0] == '0')
        {
            ok = s.AsSpan(1).IndexOfAnyExcept("01234567") < 0 && s.Length < 12;
            value = ok ? Convert.ToInt64(s, 8) : 0;
        }
        else
        {
            ok = long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        }

        return ok && value >= 0 && value <= max
            ? (int)value
            : throw Invalid($"<{owner.Name.LocalName}> source address {attribute}='{s}' is not a PCI {attribute} number");
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
