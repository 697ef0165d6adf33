using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// Reads <c>/sys/class/net/&lt;if&gt;</c> and <c>/sys/class/infiniband/&lt;dev&gt;</c>: each interface's <c>device</c> link
/// names the PCI function behind it (virtual interfaces have none), and a network interface's <c>type</c> (the
/// ARPHRD_* link type) tells Ethernet from IP-over-InfiniBand, loopback and the rest.
/// </summary>
public static class NetClassReader
{
    /// <summary>Network interfaces (Ethernet, IPoIB, loopback, ...).</summary>
    public const string NetDirectory = "class/net";

    /// <summary>RDMA devices.</summary>
    public const string InfinibandDirectory = "class/infiniband";

    /// <summary>Every interface of both classes, network interfaces first, each by name.</summary>
    public static IReadOnlyList<NetDevice> ReadAll(SysfsRoot root, DiscoveryWarnings warnings)
    {
        var result = new List<NetDevice>();
        Add(NetDirectory, net: true);
        Add(InfinibandDirectory, net: false);
        return result;

        void Add(string directory, bool net)
        {
            using SysfsDirectory classDirectory = root.OpenDirectory(directory, list: true, warnings);
            foreach (string name in classDirectory.Names())
            {
                // An entry is a link to the interface's directory; one that dangles, loops or leaves the root was
                // reported there and is no interface. One that is not a link (a flat capture) is read in place.
                int warned = warnings.Items.Count;
                string? dir = classDirectory.ResolveLink(name, warnings);
                if (dir is null && warnings.Items.Count > warned)
                {
                    continue;
                }

                dir ??= directory + "/" + name;
                string? device = root.ReadLinkName(dir + "/device", warnings);
                PciAddress? address = device is not null && PciAddress.TryParse(device, out PciAddress a) ? a : null;
                NetDeviceKind kind = NetDeviceKind.InfiniBand;
                if (net)
                {
                    string? type = root.ReadAttribute(dir + "/type", warnings);
                    if (!TryParseType(type, out kind, out string? error))
                    {
                        warnings.Add(SysfsRoot.DisplayPath(dir + "/type"), type, $"failed to parse type for {name}: {error}");
                    }
                }

                result.Add(new NetDevice(name, kind, address));
            }
        }
    }

    /// <summary>
    /// A network interface's <c>type</c> (ARPHRD_*, include/uapi/linux/if_arp.h): 1 Ethernet, 32 InfiniBand (IPoIB),
    /// 772 loopback, anything else <see cref="NetDeviceKind.OtherNetwork"/>. A missing file (a partial capture) is
    /// Ethernet, the common case; garbage is <see cref="NetDeviceKind.OtherNetwork"/> and false with the error.
    /// </summary>
    public static bool TryParseType(string? raw, out NetDeviceKind kind, out string? error)
    {
        error = null;
        kind = NetDeviceKind.Ethernet;
        if (raw is null)
        {
            return true;
        }

        if (!AttributeParsers.TryParseInt(raw, 0, ushort.MaxValue, out long type, out error))
        {
            kind = NetDeviceKind.OtherNetwork;
            return false;
        }

        kind = type switch
        {
            1 => NetDeviceKind.Ethernet,
            32 => NetDeviceKind.IpOverInfiniBand,
            772 => NetDeviceKind.Loopback,
            _ => NetDeviceKind.OtherNetwork,
        };
        return true;
    }
}
