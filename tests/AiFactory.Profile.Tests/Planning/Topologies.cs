using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Profile.Tests.Planning;

/// <summary>Named literal topologies shared by the planning tests.</summary>
internal static class Topologies
{
    /// <summary>A DGX-H100-like server: 2 sockets × 56 cores × 2 threads, 2 NUMA nodes, 8 H100 GPUs (own groups), 8 CX-7 NICs, a boot NVMe and a management NIC.</summary>
    public static readonly HostTopology Dgx8GpuTwoNuma = BuildDgx();

    /// <summary>A workstation: one GPU with its HD-audio function in one IOMMU group, a NIC, an NVMe boot disk.</summary>
    public static readonly HostTopology WorkstationGpuWithAudio = new()
    {
        Cpus = Cpus("0-15"),
        NumaNodes = [Node(0, "0-15", 64, 0)],
        PciDevices =
        [
            Dev("0000:00:01.0", 0x8086, 0x1901, 0x060400, "pcieport", 1, DeviceKind.Bridge),
            Dev("0000:01:00.0", 0x10de, 0x2684, 0x030000, "nvidia", 2, DeviceKind.Gpu),
            Dev("0000:01:00.1", 0x10de, 0x22ba, 0x040300, "snd_hda_intel", 2, DeviceKind.GpuAudio),
            Dev("0000:02:00.0", 0x8086, 0x15f3, 0x020000, "igc", 3, DeviceKind.Nic),
            Dev("0000:03:00.0", 0x144d, 0xa80a, 0x010802, "nvme", 4, DeviceKind.Nvme),
        ],
    };

    private static HostTopology BuildDgx()
    {
        var devices = new List<PciDevice>();
        byte[] gpuBuses = [0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb];
        for (int i = 0; i < gpuBuses.Length; i++)
        {
            devices.Add(Dev($"0000:{gpuBuses[i]:x2}:00.0", 0x10de, 0x2330, 0x030200, "nvidia", 20 + i, DeviceKind.Gpu) with { NumaNode = i < 4 ? 0 : 1 });
            devices.Add(Dev($"0000:{gpuBuses[i] - 1:x2}:00.0", 0x15b3, 0x1021, 0x020700, "mlx5_core", 40 + i, DeviceKind.Nic) with
            {
                NumaNode = i < 4 ? 0 : 1,
                Sriov = new SriovInfo(16, 0, true, []),
            });
        }

        devices.Add(Dev("0000:c1:00.0", 0x144d, 0xa824, 0x010802, "nvme", 60, DeviceKind.Nvme));
        devices.Add(Dev("0000:c2:00.0", 0x8086, 0x1592, 0x020000, "ice", 61, DeviceKind.Nic));
        devices.Sort((a, b) => a.Address.CompareTo(b.Address));
        return new HostTopology
        {
            Cpus = Cpus("0-223") with { Isolated = CpuSet.Parse("8-111,120-223") },
            NumaNodes = [Node(0, "0-55,112-167", 1024, 0), Node(1, "56-111,168-223", 1024, 0)],
            PciDevices = devices,
        };
    }

    public static CpuTopology Cpus(string online) => new()
    {
        Online = CpuSet.Parse(online),
        Possible = CpuSet.Parse(online),
        Present = CpuSet.Parse(online),
        Cpus = [],
    };

    public static NumaNode Node(int id, string cpus, long memGiB, long pages2M) => new()
    {
        Id = id,
        Cpus = CpuSet.Parse(cpus),
        MemoryTotalBytes = memGiB * 1024 * 1024 * 1024,
        Hugepages = [new HugepagePool(2048, pages2M, pages2M, 0), new HugepagePool(1048576, 0, 0, 0)],
    };

    public static PciDevice Dev(string address, ushort vendor, ushort device, uint cls, string? driver, int group, DeviceKind kind) => new()
    {
        Address = PciAddress.Parse(address),
        VendorId = vendor,
        DeviceId = device,
        ClassCode = cls,
        Driver = driver,
        IommuGroup = group,
        Kind = kind,
    };
}
