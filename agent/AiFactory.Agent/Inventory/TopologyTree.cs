using System.Globalization;
using AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Inventory;

/// <summary>
/// Draws the inventory as a tree: machine → socket → NUMA node → root port → switch ports → devices, with IOMMU
/// groups and hugepages as attributes. CPU-less NUMA nodes hang under the machine; devices whose NUMA node is
/// unknown too.
/// </summary>
internal static class TopologyTree
{
    public static TopologyNode Build(HostInventory inv)
    {
        var machine = new TopologyNode { Kind = "machine", Id = "0", Label = Inv($"Machine ({inv.Cpus?.Sockets ?? 0} sockets, {inv.Cpus?.Cores ?? 0} cores, {inv.Cpus?.Threads ?? 0} PUs, {Gib(inv.MemoryTotalBytes)})") };
        foreach (HugepagePoolInfo h in inv.Hugepages)
        {
            machine.Attributes[Inv($"hugepages-{h.PageSizeKib}kB")] = Inv($"{h.Free}/{h.Total} free");
        }

        var devices = inv.PciDevices.ToDictionary(d => d.Address, StringComparer.Ordinal);
        var children = new Dictionary<string, List<PciDeviceInfo>>(StringComparer.Ordinal);
        var tops = new List<PciDeviceInfo>();
        foreach (PciDeviceInfo d in inv.PciDevices)
        {
            // A VF hangs under its PF; anything else under its nearest bridge.
            string? parent = d.PhysicalFunction.Length > 0 ? d.PhysicalFunction : d.UpstreamBridges.Count > 0 ? d.UpstreamBridges[0] : null;
            if (parent is not null && devices.ContainsKey(parent))
            {
                (children.TryGetValue(parent, out var list) ? list : children[parent] = []).Add(d);
            }
            else
            {
                tops.Add(d);
            }
        }

        var sockets = new SortedDictionary<uint, TopologyNode>();
        var cpuSocket = inv.Cpus?.Cpu.ToDictionary(c => c.Id, c => c.Socket) ?? [];
        var nodeTrees = new Dictionary<uint, TopologyNode>();
        foreach (NumaNodeInfo n in inv.NumaNodes)
        {
            var node = new TopologyNode
            {
                Kind = "numa_node",
                Id = n.Id.ToString(CultureInfo.InvariantCulture),
                Label = Inv($"NUMA node {n.Id} (cpus {(n.Cpus.Length == 0 ? "none" : n.Cpus)}, {Gib(n.MemoryTotalBytes)})"),
            };
            foreach (HugepagePoolInfo h in n.Hugepages)
            {
                node.Attributes[Inv($"hugepages-{h.PageSizeKib}kB")] = Inv($"{h.Free}/{h.Total} free");
            }

            nodeTrees[n.Id] = node;
            uint? socket = FirstCpu(n.Cpus) is { } cpu && cpuSocket.TryGetValue(cpu, out uint s) ? s : null;
            if (socket is { } sid)
            {
                if (!sockets.TryGetValue(sid, out TopologyNode? sn))
                {
                    sn = new TopologyNode { Kind = "socket", Id = sid.ToString(CultureInfo.InvariantCulture), Label = Inv($"Socket {sid}") };
                    sockets[sid] = sn;
                }

                sn.Children.Add(node);
            }
            else
            {
                node.Label += " memory only";
            }
        }

        machine.Children.Add(sockets.Values);
        foreach (NumaNodeInfo n in inv.NumaNodes)
        {
            if (n.Cpus.Length == 0)
            {
                machine.Children.Add(nodeTrees[n.Id]);
            }
        }

        foreach (PciDeviceInfo d in tops)
        {
            TopologyNode parent = d.NumaNode is int id && nodeTrees.TryGetValue((uint)id, out TopologyNode? nt) ? nt : machine;
            parent.Children.Add(DeviceNode(d, children, inv, top: true));
        }

        return machine;
    }

    private static TopologyNode DeviceNode(PciDeviceInfo d, Dictionary<string, List<PciDeviceInfo>> children, HostInventory inv, bool top)
    {
        bool bridge = d.Kind == "bridge";
        string kind = bridge ? (top ? "root_port" : "switch_port") : d.Kind;
        string name = d.ModelName.Length > 0 ? d.ModelName : Inv($"{d.VendorId:x4}:{d.DeviceId:x4}");
        string label = Inv($"{d.Address} {(bridge ? (top ? "root port" : "switch port") : d.Kind)} {name}");
        if (d.Driver.Length > 0)
        {
            label += " [" + d.Driver + "]";
        }

        var node = new TopologyNode { Kind = kind, Id = d.Address, Label = label };
        if (d.HasIommuGroup)
        {
            node.Attributes["iommu_group"] = d.IommuGroup.ToString(CultureInfo.InvariantCulture);
            IommuGroupInfo? g = inv.IommuGroups.FirstOrDefault(x => x.Id == d.IommuGroup);
            if (!bridge && g is not null && g.Endpoints.Count > 1)
            {
                node.Attributes["iommu_group_shared_with"] = string.Join(",", g.Endpoints.Where(e => e != d.Address));
            }
        }

        if (d.Link is { } l && l.CurrentWidth > 0)
        {
            node.Attributes["link"] = Inv($"{l.CurrentSpeedGts} GT/s x{l.CurrentWidth}") + (l.Degraded ? Inv($" (degraded; max {l.MaxSpeedGts} GT/s x{l.MaxWidth})") : string.Empty);
        }

        if (d.Sriov is { } s)
        {
            node.Attributes["sriov"] = Inv($"{s.NumVfs}/{s.TotalVfs} VFs");
        }

        foreach (NetDeviceInfo n in inv.NetDevices)
        {
            if (n.PciAddress == d.Address)
            {
                node.Attributes[n.Kind == "ethernet" ? "netdev" : "rdma"] = node.Attributes.TryGetValue(n.Kind == "ethernet" ? "netdev" : "rdma", out string? prev) ? prev + "," + n.Name : n.Name;
            }
        }

        if (children.TryGetValue(d.Address, out var list))
        {
            foreach (PciDeviceInfo c in list)
            {
                node.Children.Add(DeviceNode(c, children, inv, top: false));
            }
        }

        return node;
    }

    private static uint? FirstCpu(string list)
    {
        if (list.Length == 0)
        {
            return null;
        }

        int end = 0;
        while (end < list.Length && char.IsAsciiDigit(list[end]))
        {
            end++;
        }

        return uint.TryParse(list.AsSpan(0, end), NumberStyles.None, CultureInfo.InvariantCulture, out uint cpu) ? cpu : null;
    }

    private static string Gib(long bytes) => Inv($"{bytes / (1024.0 * 1024 * 1024):0.#} GiB");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
