using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Reads <c>/sys/class/net/&lt;if&gt;</c> and <c>/sys/class/infiniband/&lt;dev&gt;</c>: each interface's <c>device</c> link
/// names the PCI function behind it (virtual interfaces have none).
/// </summary>
public static class NetClassReader
{
    /// <summary>Ethernet (and IPoIB) interfaces.</summary>
    public const string NetDirectory = "class/net";

    /// <summary>RDMA devices.</summary>
    public const string InfinibandDirectory = "class/infiniband";

    /// <summary>Every interface of both classes, Ethernet first, each by name.</summary>
    public static IReadOnlyList<NetDevice> ReadAll(SysfsRoot root, DiscoveryWarnings warnings)
    {
        var result = new List<NetDevice>();
        Add(NetDirectory, NetDeviceKind.Ethernet);
        Add(InfinibandDirectory, NetDeviceKind.InfiniBand);
        return result;

        void Add(string directory, NetDeviceKind kind)
        {
            using SysfsDirectory classDirectory = root.OpenDirectory(directory, list: true, warnings);
            foreach (string name in classDirectory.Names())
            {
                string? dir = classDirectory.ResolveLink(name, warnings) ?? directory + "/" + name;
                string? device = root.ReadLinkName(dir + "/device", warnings);
                PciAddress? address = device is not null && PciAddress.TryParse(device, out PciAddress a) ? a : null;
                result.Add(new NetDevice(name, kind, address));
            }
        }
    }
}
