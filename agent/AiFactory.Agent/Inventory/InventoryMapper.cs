using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Memory;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Agent.Inventory;

/// <summary>Converts the live <see cref="HostTopology"/> into the wire message (one direction only).</summary>
internal static class InventoryMapper
{
    public static HostInventory ToProto(HostTopology t, string sysfsRoot, string? procfsRoot)
    {
        var inv = new HostInventory
        {
            SysfsRoot = sysfsRoot,
            ProcfsRoot = procfsRoot ?? string.Empty,
            Cpus = Cpus(t.Cpus, t.Sockets.Count),
            KernelCommandLine = t.KernelCommandLine ?? string.Empty,
        };
        if (t.MemoryTotalBytes is { } memory)
        {
            inv.MemoryTotalBytes = memory;
        }

        foreach (NumaNode n in t.NumaNodes)
        {
            var node = new NumaNodeInfo { Id = (uint)n.Id, Cpus = n.Cpus.ToString() };
            if (n.MemoryTotalBytes is { } total)
            {
                node.MemoryTotalBytes = total;
            }

            if (n.MemoryFreeBytes is { } free)
            {
                node.MemoryFreeBytes = free;
            }
            foreach (int d in n.Distances)
            {
                node.Distances.Add((uint)d);
            }

            foreach (HugepagePool p in n.Hugepages)
            {
                node.Hugepages.Add(new HugepagePoolInfo { PageSizeKib = p.PageSizeKiB, Total = p.Total, Free = p.Free, Surplus = p.Surplus });
            }

            inv.NumaNodes.Add(node);
        }

        foreach (PciDevice d in t.PciDevices)
        {
            inv.PciDevices.Add(Device(d));
        }

        foreach (IommuGroupReport g in IommuGroupReport.Analyze(t))
        {
            var info = new IommuGroupInfo { Id = (uint)g.Id, Isolated = g.IsIsolated };
            info.Members.Add(g.Members.Select(a => a.ToString()));
            info.Endpoints.Add(g.Endpoints.Select(a => a.ToString()));
            info.Bridges.Add(g.Bridges.Select(a => a.ToString()));
            info.HostNeeded.Add(g.HostNeeded.Select(a => a.ToString()));
            inv.IommuGroups.Add(info);
        }

        foreach (NetDevice n in t.NetDevices)
        {
            inv.NetDevices.Add(new NetDeviceInfo
            {
                Name = n.Name,
                Kind = NetKindName(n.Kind),
                PciAddress = n.PciAddress?.ToString() ?? string.Empty,
            });
        }

        foreach (HugepageSize h in t.Hugepages)
        {
            inv.Hugepages.Add(new HugepagePoolInfo { PageSizeKib = h.PageSizeKiB, Total = h.Total, Free = h.Free, Surplus = h.Surplus, Reserved = h.Reserved });
        }

        foreach (GpuAffinity a in GpuAffinity.Compute(t))
        {
            var info = new GpuAffinityInfo { Gpu = a.Gpu.ToString() };
            if (a.NumaNode is { } node)
            {
                info.NumaNode = node;
            }

            info.NicsSameSwitch.Add(a.NicsSameSwitch.Select(x => x.ToString()));
            info.NicsSameRootPort.Add(a.NicsSameRootPort.Select(x => x.ToString()));
            info.NicsSameNumaNode.Add(a.NicsSameNumaNode.Select(x => x.ToString()));
            info.NvmeSameSwitch.Add(a.NvmeSameSwitch.Select(x => x.ToString()));
            info.NvmeSameNumaNode.Add(a.NvmeSameNumaNode.Select(x => x.ToString()));
            inv.GpuAffinity.Add(info);
        }

        foreach (DiscoveryWarning w in t.Warnings)
        {
            inv.Warnings.Add(new DiscoveryWarningInfo { Path = w.Path, RawValue = w.RawValue ?? string.Empty, Message = w.Message });
        }

        return inv;
    }

    /// <summary>The inventory with what changes all the time (free memory, timestamps, generation) cleared: equal means "no real change".</summary>
    public static HostInventory Stable(HostInventory inventory)
    {
        HostInventory copy = inventory.Clone();
        copy.Generation = 0;
        copy.DiscoveredUnixMs = 0;
        foreach (NumaNodeInfo n in copy.NumaNodes)
        {
            n.ClearMemoryFreeBytes();
        }

        return copy;
    }

    /// <summary>The wire name of a network device kind (NetDeviceInfo.kind).</summary>
    public static string NetKindName(NetDeviceKind kind) => kind switch
    {
        NetDeviceKind.Ethernet => "ethernet",
        NetDeviceKind.InfiniBand => "infiniband",
        NetDeviceKind.IpOverInfiniBand => "ipoib",
        NetDeviceKind.Loopback => "loopback",
        _ => "other",
    };

    public static string KindName(DeviceKind kind) => kind switch
    {
        DeviceKind.Gpu => "gpu",
        DeviceKind.GpuAudio => "gpu_audio",
        DeviceKind.Nic => "nic",
        DeviceKind.Nvme => "nvme",
        DeviceKind.Storage => "storage",
        DeviceKind.Bridge => "bridge",
        DeviceKind.NvSwitch => "nvswitch",
        _ => "other",
    };

    private static CpuInventory Cpus(CpuTopology c, int sockets)
    {
        var info = new CpuInventory
        {
            Online = c.Online.ToString(),
            Possible = c.Possible.ToString(),
            Present = c.Present.ToString(),
            Isolated = c.Isolated.ToString(),
            NohzFull = c.NohzFull.ToString(),
            Sockets = (uint)sockets,
            Cores = (uint)c.CoreCount,
            Threads = (uint)c.Cpus.Count,
        };
        foreach (LogicalCpu cpu in c.Cpus)
        {
            info.Cpu.Add(new LogicalCpuInfo { Id = (uint)cpu.Id, Socket = (uint)cpu.Socket, Die = (uint)cpu.Die, Core = (uint)cpu.Core, ThreadSiblings = cpu.ThreadSiblings.ToString(), NumaNode = (uint)cpu.NumaNode });
        }

        return info;
    }

    private static PciDeviceInfo Device(PciDevice d)
    {
        var info = new PciDeviceInfo
        {
            Address = d.Address.ToString(),
            VendorId = d.VendorId,
            DeviceId = d.DeviceId,
            SubsystemVendorId = d.SubsystemVendorId ?? 0,
            SubsystemDeviceId = d.SubsystemDeviceId ?? 0,
            ClassCode = d.ClassCode,
            Kind = KindName(d.Kind),
            ModelName = d.ModelName ?? string.Empty,
            Driver = d.Driver ?? string.Empty,
            DriverOverride = d.DriverOverride ?? string.Empty,
            LocalCpus = d.LocalCpus?.ToString() ?? string.Empty,
            PhysicalFunction = d.PhysicalFunction?.ToString() ?? string.Empty,
        };
        if (d.NumaNode is { } node)
        {
            info.NumaNode = node;
        }

        if (d.IommuGroup is { } group)
        {
            info.IommuGroup = group;
        }

        if (d.Link is { } link)
        {
            info.Link = new PciLinkInfo
            {
                CurrentSpeedGts = link.CurrentSpeedGts ?? 0,
                MaxSpeedGts = link.MaxSpeedGts ?? 0,
                CurrentWidth = (uint)(link.CurrentWidth ?? 0),
                MaxWidth = (uint)(link.MaxWidth ?? 0),
                Degraded = d.IsLinkDegraded,
            };
        }

        info.ResetMethods.Add(d.ResetMethods);
        if (d.Sriov is { } s)
        {
            info.Sriov = new SriovInfoMessage { TotalVfs = (uint)s.TotalVfs, NumVfs = (uint)s.NumVfs, DriversAutoprobe = s.DriversAutoprobe ?? false };
            info.Sriov.VirtualFunctions.Add(s.VirtualFunctions.Select(a => a.ToString()));
        }

        info.UpstreamBridges.Add(d.UpstreamBridges.Select(a => a.ToString()));
        return info;
    }
}
