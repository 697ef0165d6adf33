using System.Globalization;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Model.Cpu;

namespace AiFactory.Agent.Inventory;

/// <summary>
/// Draws the inventory as a tree: machine → socket → NUMA node → root port → switch ports → devices, with IOMMU
/// groups and hugepages as attributes. A node's socket is that of any of its online CPUs; a CPU-less (memory-only)
/// node hangs under the socket of the nearest node with CPUs by distance. Every node appears: one that cannot be
/// placed (no online CPU, no distances) hangs under the machine, and so do devices whose NUMA node is unknown.
/// </summary>
internal static class TopologyTree
{
    public static TopologyNode Build(HostInventory inv)
    {
        var machine = new TopologyNode { Kind = "machine", Id = "0", Label = Inv($"Machine ({inv.Cpus?.Sockets ?? 0} sockets, {inv.Cpus?.Cores ?? 0} cores, {inv.Cpus?.Threads ?? 0} PUs, {Memory(inv.HasMemoryTotalBytes, inv.MemoryTotalBytes)})") };
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
        var nodeSocket = new Dictionary<uint, uint>();
        var cpuless = new List<NumaNodeInfo>();
        var unplaced = new List<TopologyNode>();
        foreach (NumaNodeInfo n in inv.NumaNodes)
        {
            var node = new TopologyNode
            {
                Kind = "numa_node",
                Id = n.Id.ToString(CultureInfo.InvariantCulture),
                Label = Inv($"NUMA node {n.Id} (cpus {(n.Cpus.Length == 0 ? "none" : n.Cpus)}, {Memory(n.HasMemoryTotalBytes, n.MemoryTotalBytes)})"),
            };
            foreach (HugepagePoolInfo h in n.Hugepages)
            {
                node.Attributes[Inv($"hugepages-{h.PageSizeKib}kB")] = Inv($"{h.Free}/{h.Total} free");
            }

            nodeTrees[n.Id] = node;
            if (n.Cpus.Length == 0)
            {
                cpuless.Add(n);
            }
            else if (SocketOf(n.Cpus, cpuSocket) is { } sid)
            {
                // Any online CPU of the node names its socket: the first may be offline.
                nodeSocket[n.Id] = sid;
                Socket(sid).Children.Add(node);
            }
            else
            {
                // None of its CPUs is online (or the CPU topology is unreadable): still part of the machine.
                node.Label += " (no online cpu)";
                unplaced.Add(node);
            }
        }

        foreach (NumaNodeInfo n in cpuless)
        {
            // A memory-only node (GPU memory on GH200/GB200, CXL) hangs under the socket it is closest to.
            TopologyNode node = nodeTrees[n.Id];
            node.Label += " memory only";
            if (ClosestSocket(n, inv, nodeSocket) is { } sid)
            {
                Socket(sid).Children.Add(node);
            }
            else
            {
                unplaced.Add(node);
            }
        }

        machine.Children.Add(sockets.Values);
        machine.Children.Add(unplaced);
        foreach (PciDeviceInfo d in tops)
        {
            // numa_node is optional: absent means the kernel does not know (-1), which is not node 0.
            TopologyNode parent = d.HasNumaNode && d.NumaNode >= 0 && nodeTrees.TryGetValue((uint)d.NumaNode, out TopologyNode? nt) ? nt : machine;
            parent.Children.Add(DeviceNode(d, children, inv, top: true));
        }

        return machine;

        TopologyNode Socket(uint sid)
        {
            if (!sockets.TryGetValue(sid, out TopologyNode? sn))
            {
                sn = new TopologyNode { Kind = "socket", Id = sid.ToString(CultureInfo.InvariantCulture), Label = Inv($"Socket {sid}") };
                sockets[sid] = sn;
            }

            return sn;
        }
    }

    /// <summary>
    /// What a link can reach: the lower of the device's maximum and that of the port above it (its nearest upstream
    /// bridge), where both are known; a card in a slower or narrower slot can reach only what the slot can.
    /// </summary>
    private static string Capable(PciDeviceInfo d, HostInventory inv)
    {
        PciLinkInfo l = d.Link;
        PciLinkInfo? port = d.UpstreamBridges.Count > 0 ? inv.PciDevices.FirstOrDefault(p => p.Address == d.UpstreamBridges[0])?.Link : null;
        double speed = port is { MaxSpeedGts: > 0 } && l.MaxSpeedGts > 0 ? Math.Min(l.MaxSpeedGts, port.MaxSpeedGts) : l.MaxSpeedGts;
        uint width = port is { MaxWidth: > 0 } && l.MaxWidth > 0 ? Math.Min(l.MaxWidth, port.MaxWidth) : l.MaxWidth;
        return Inv($"{speed} GT/s x{width}");
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
            node.Attributes["link"] = Inv($"{l.CurrentSpeedGts} GT/s x{l.CurrentWidth}") + (l.Degraded ? Inv($" (degraded; can reach {Capable(d, inv)})") : string.Empty);
        }

        if (d.Sriov is { } s)
        {
            node.Attributes["sriov"] = Inv($"{s.NumVfs}/{s.TotalVfs} VFs");
        }

        foreach (NetDeviceInfo n in inv.NetDevices)
        {
            if (n.PciAddress == d.Address)
            {
                // A network interface (Ethernet, IPoIB, ...) is a netdev; an RDMA device (class/infiniband) is not.
                string key = n.Kind == "infiniband" ? "rdma" : "netdev";
                node.Attributes[key] = node.Attributes.TryGetValue(key, out string? prev) ? prev + "," + n.Name : n.Name;
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

    /// <summary>The socket of the first CPU in <paramref name="list"/> that the CPU topology knows (i.e. an online one).</summary>
    private static uint? SocketOf(string list, Dictionary<uint, uint> cpuSocket)
    {
        if (!CpuSet.TryParse(list, out CpuSet? cpus, out _))
        {
            return null;
        }

        foreach (int cpu in cpus)
        {
            if (cpuSocket.TryGetValue((uint)cpu, out uint socket))
            {
                return socket;
            }
        }

        return null;
    }

    /// <summary>
    /// The socket of the node with CPUs nearest to the CPU-less node <paramref name="n"/> by its SLIT row (one distance
    /// per node, in node order); the lowest id wins a tie. Null when no distance leads to a placed node.
    /// </summary>
    private static uint? ClosestSocket(NumaNodeInfo n, HostInventory inv, Dictionary<uint, uint> nodeSocket)
    {
        uint? best = null;
        uint bestDistance = uint.MaxValue;
        for (int i = 0; i < inv.NumaNodes.Count && i < n.Distances.Count; i++)
        {
            if (nodeSocket.TryGetValue(inv.NumaNodes[i].Id, out uint socket) && n.Distances[i] < bestDistance)
            {
                best = socket;
                bestDistance = n.Distances[i];
            }
        }

        return best;
    }

    /// <summary>A memory size in GiB, or "memory unknown" when discovery could not read it (never "0 GiB").</summary>
    private static string Memory(bool known, long bytes) => known ? Inv($"{bytes / (1024.0 * 1024 * 1024):0.#} GiB") : "memory unknown";

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
