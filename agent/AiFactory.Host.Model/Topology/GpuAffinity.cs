using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Model.Topology;

/// <summary>
/// Where a GPU's neighbours are, closest first: the NICs/HCAs and NVMe that share its PCIe switch (the best
/// GPUDirect RDMA / GPUDirect Storage partners), its root port, or only its NUMA node.
/// </summary>
/// <param name="Gpu">The GPU.</param>
/// <param name="NumaNode">The GPU's NUMA node; null when the kernel does not know it.</param>
/// <param name="NicsSameSwitch">NICs under the same PCIe switch (same upstream switch port).</param>
/// <param name="NicsSameRootPort">NICs under the same root port but not the same switch.</param>
/// <param name="NicsSameNumaNode">NICs on the same NUMA node under another root port.</param>
/// <param name="NvmeSameSwitch">NVMe controllers under the same PCIe switch.</param>
/// <param name="NvmeSameNumaNode">NVMe controllers on the same NUMA node elsewhere.</param>
public sealed record GpuAffinity(
    PciAddress Gpu,
    int? NumaNode,
    IReadOnlyList<PciAddress> NicsSameSwitch,
    IReadOnlyList<PciAddress> NicsSameRootPort,
    IReadOnlyList<PciAddress> NicsSameNumaNode,
    IReadOnlyList<PciAddress> NvmeSameSwitch,
    IReadOnlyList<PciAddress> NvmeSameNumaNode)
{
    /// <summary>The closest NIC, or null: same switch, then same root port, then same NUMA node.</summary>
    public PciAddress? BestNic =>
        NicsSameSwitch.Count > 0 ? NicsSameSwitch[0] :
        NicsSameRootPort.Count > 0 ? NicsSameRootPort[0] :
        NicsSameNumaNode.Count > 0 ? NicsSameNumaNode[0] : null;

    /// <summary>
    /// Computes the affinity of every GPU of <paramref name="topology"/>. Virtual functions are left out (they follow
    /// their physical function). Two devices share a switch when their nearest upstream bridges below the root
    /// port have a common ancestor that is not the root port itself.
    /// </summary>
    public static IReadOnlyList<GpuAffinity> Compute(HostTopology topology)
    {
        var result = new List<GpuAffinity>();
        foreach (PciDevice gpu in topology.PciDevices)
        {
            if (gpu.Kind != DeviceKind.Gpu)
            {
                continue;
            }

            var nicSwitch = new List<PciAddress>();
            var nicRoot = new List<PciAddress>();
            var nicNode = new List<PciAddress>();
            var nvmeSwitch = new List<PciAddress>();
            var nvmeNode = new List<PciAddress>();
            foreach (PciDevice d in topology.PciDevices)
            {
                if (d.IsVirtualFunction || (d.Kind != DeviceKind.Nic && d.Kind != DeviceKind.Nvme))
                {
                    continue;
                }

                Closeness c = ClosenessOf(gpu, d);
                if (d.Kind == DeviceKind.Nic)
                {
                    (c switch { Closeness.SameSwitch => nicSwitch, Closeness.SameRootPort => nicRoot, Closeness.SameNode => nicNode, _ => null })?.Add(d.Address);
                }
                else
                {
                    (c switch { Closeness.SameSwitch => nvmeSwitch, Closeness.SameNode or Closeness.SameRootPort => nvmeNode, _ => null })?.Add(d.Address);
                }
            }

            result.Add(new GpuAffinity(gpu.Address, gpu.NumaNode, nicSwitch, nicRoot, nicNode, nvmeSwitch, nvmeNode));
        }

        return result;
    }

    private enum Closeness
    {
        Far,
        SameNode,
        SameRootPort,
        SameSwitch,
    }

    private static Closeness ClosenessOf(PciDevice a, PciDevice b)
    {
        if (a.RootPort is { } ra && b.RootPort is { } rb && ra == rb)
        {
            // A common bridge below the root port is a switch port both hang under.
            for (int i = 0; i < a.UpstreamBridges.Count - 1; i++)
            {
                for (int j = 0; j < b.UpstreamBridges.Count - 1; j++)
                {
                    if (a.UpstreamBridges[i] == b.UpstreamBridges[j])
                    {
                        return Closeness.SameSwitch;
                    }
                }
            }

            return Closeness.SameRootPort;
        }

        return a.NumaNode is { } na && b.NumaNode is { } nb && na == nb ? Closeness.SameNode : Closeness.Far;
    }
}
