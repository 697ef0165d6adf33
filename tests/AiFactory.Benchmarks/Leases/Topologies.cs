using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>
/// Named literal topologies shaped like real servers, declared once and shared by the planner's tests.
/// (kubelet's policy_test.go style; the discovery fixtures replace them once they land.)
/// </summary>
internal static class Topologies
{
    private const long GiB = 1L << 30;

    /// <summary>
    /// DGX H100: 2 sockets × 56 cores × 2 threads (224 CPUs; node 0 = 0-55,112-167), 8 H100 SXM5 (4 per node), each
    /// under a PCIe switch with one ConnectX-7 PF carrying 4 VFs, 4 NVSwitches; 1 TiB per node with 900 1G and
    /// 4096 2M pages reserved; each GPU has its HD-audio-less IOMMU group of its own.
    /// </summary>
    public static HostTopology DgxH100 { get; } = BuildDgxH100();

    /// <summary>4 sockets × 24 cores × 2 threads (192 CPUs), one A100 PCIe per node, no NVSwitch, no SR-IOV; 256 GiB per node, 200 1G pages.</summary>
    public static HostTopology FourSocket { get; } = BuildFourSocket();

    /// <summary>
    /// GH200: one Grace node 0 with 72 cores (no SMT) and 480 GiB (400 1G pages), the H100's HBM as CPU-less node 1 and
    /// empty MIG nodes 2-8; the GPU's numa_node is 1.
    /// </summary>
    public static HostTopology Gh200 { get; } = BuildGh200();

    /// <summary>
    /// A 2-socket server whose only SR-IOV NIC hangs off the other socket: 2 × 8 cores × 2 threads (32 CPUs), two
    /// A100 PCIe on node 0, one ConnectX-6 Dx PF with 4 VFs on node 1 (under no GPU's switch); 256 GiB and 64 1G
    /// pages per node.
    /// </summary>
    public static HostTopology NicOnOtherSocket { get; } = BuildNicOnOtherSocket();

    /// <summary>A workstation: 8 cores × 2 threads, one node, 2 RTX GPUs each with an audio companion in its IOMMU group.</summary>
    public static HostTopology Workstation { get; } = BuildWorkstation();

    private static HostTopology BuildDgxH100()
    {
        var cpus = SmtCpus(sockets: 2, coresPerSocket: 56, nodeOfSocket: s => s);
        var devices = new List<PciDevice>();
        var groups = new List<IommuGroup>();
        byte[] gpuBus = [0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb];
        for (int i = 0; i < 8; i++)
        {
            int node = i < 4 ? 0 : 1;
            var root = new PciAddress(0, (byte)(gpuBus[i] - 3), 1, 0);
            var switchUp = new PciAddress(0, (byte)(gpuBus[i] - 2), 0, 0);
            var gpuDown = new PciAddress(0, (byte)(gpuBus[i] - 1), 0, 0);
            var nicDown = new PciAddress(0, (byte)(gpuBus[i] - 1), 1, 0);
            var gpu = new PciAddress(0, gpuBus[i], 0, 0);
            var nic = new PciAddress(0, (byte)(gpuBus[i] + 1), 0, 0);
            var vfs = Enumerable.Range(0, 4).Select(v => new PciAddress(0, (byte)(gpuBus[i] + 1), 0, (byte)(v + 1)) with { Device = 1, Function = (byte)v }).ToList();
            devices.Add(Gpu(gpu, node, "H100 SXM5 80GB", 0x2330, [gpuDown, switchUp, root], 10 + i));
            devices.Add(new PciDevice
            {
                Address = nic, VendorId = 0x15b3, DeviceId = 0x1021, ClassCode = 0x020700, Kind = DeviceKind.Nic, ModelName = "ConnectX-7",
                Driver = "mlx5_core", NumaNode = node, UpstreamBridges = [nicDown, switchUp, root], IommuGroup = 30 + i,
                Sriov = new SriovInfo(16, 4, true, vfs),
            });
            groups.Add(new IommuGroup(10 + i, [gpu]));
            groups.Add(new IommuGroup(30 + i, [nic]));
            for (int v = 0; v < vfs.Count; v++)
            {
                devices.Add(new PciDevice
                {
                    Address = vfs[v], VendorId = 0x15b3, DeviceId = 0x101e, ClassCode = 0x020700, Kind = DeviceKind.Nic, ModelName = "ConnectX Family mlx5Gen Virtual Function",
                    Driver = "mlx5_core", NumaNode = node, UpstreamBridges = [nicDown, switchUp, root], IommuGroup = 100 + (i * 4) + v, PhysicalFunction = nic,
                });
                groups.Add(new IommuGroup(100 + (i * 4) + v, [vfs[v]]));
            }
        }

        for (int s = 0; s < 4; s++)
        {
            devices.Add(new PciDevice { Address = new PciAddress(0, 0xe0, (byte)s, 0), VendorId = 0x10de, DeviceId = 0x22a3, ClassCode = 0x068000, Kind = DeviceKind.NvSwitch, NumaNode = 1 });
        }

        return new HostTopology
        {
            Cpus = cpus,
            NumaNodes =
            [
                Node(0, cpus, 1024 * GiB, [10, 21], [new HugepagePool(1024 * 1024, 900, 900, 0), new HugepagePool(2048, 4096, 4096, 0)]),
                Node(1, cpus, 1024 * GiB, [21, 10], [new HugepagePool(1024 * 1024, 900, 900, 0), new HugepagePool(2048, 4096, 4096, 0)]),
            ],
            PciDevices = [.. devices.OrderBy(d => d.Address)],
            IommuGroups = groups,
        };
    }

    private static HostTopology BuildFourSocket()
    {
        var cpus = SmtCpus(sockets: 4, coresPerSocket: 24, nodeOfSocket: s => s);
        int[][] distances = [[10, 21, 21, 31], [21, 10, 31, 21], [21, 31, 10, 21], [31, 21, 21, 10]];
        var devices = new List<PciDevice>();
        for (int n = 0; n < 4; n++)
        {
            devices.Add(Gpu(new PciAddress(0, (byte)(0x20 + (0x40 * n)), 0, 0), n, "A100 PCIe 80GB", 0x20b5, [new PciAddress(0, (byte)(0x1f + (0x40 * n)), 1, 0)], n));
        }

        return new HostTopology
        {
            Cpus = cpus,
            NumaNodes = [.. Enumerable.Range(0, 4).Select(n => Node(n, cpus, 256 * GiB, distances[n], [new HugepagePool(1024 * 1024, 200, 200, 0)]))],
            PciDevices = devices,
            IommuGroups = [.. devices.Select(d => new IommuGroup(d.IommuGroup!.Value, [d.Address]))],
        };
    }

    private static HostTopology BuildGh200()
    {
        var list = Enumerable.Range(0, 72).Select(c => new LogicalCpu(c, 0, 0, c, CpuSet.Of(c), 0)).ToList();
        CpuSet all = CpuSet.Of(Enumerable.Range(0, 72));
        var cpus = new CpuTopology { Online = all, Possible = all, Present = all, Cpus = list };
        var nodes = new List<NumaNode>
        {
            new() { Id = 0, Cpus = all, MemoryTotalBytes = 480 * GiB, MemoryFreeBytes = 470 * GiB, Distances = [10, 80, 80, 80, 80, 80, 80, 80, 80], Hugepages = [new HugepagePool(1024 * 1024, 400, 400, 0)] },
            new() { Id = 1, Cpus = CpuSet.Empty, MemoryTotalBytes = 96 * GiB, MemoryFreeBytes = 96 * GiB, Distances = [80, 10, 80, 80, 80, 80, 80, 80, 80] },
        };
        for (int n = 2; n <= 8; n++)
        {
            nodes.Add(new NumaNode { Id = n, Cpus = CpuSet.Empty, Distances = [.. Enumerable.Range(0, 9).Select(i => i == n ? 10 : 80)] });
        }

        var gpu = Gpu(new PciAddress(9, 1, 0, 0), 1, "GH200 480GB", 0x2342, [new PciAddress(9, 0, 0, 0)], 5);
        return new HostTopology { Cpus = cpus, NumaNodes = nodes, PciDevices = [gpu], IommuGroups = [new IommuGroup(5, [gpu.Address])] };
    }

    private static HostTopology BuildNicOnOtherSocket()
    {
        var cpus = SmtCpus(sockets: 2, coresPerSocket: 8, nodeOfSocket: s => s);
        var devices = new List<PciDevice>();
        var groups = new List<IommuGroup>();
        for (int i = 0; i < 2; i++)
        {
            var gpu = new PciAddress(0, (byte)(0x17 + i), 0, 0);
            devices.Add(Gpu(gpu, 0, "A100 PCIe 80GB", 0x20b5, [new PciAddress(0, 0x16, (byte)(1 + i), 0)], 1 + i));
            groups.Add(new IommuGroup(1 + i, [gpu]));
        }

        var pf = new PciAddress(0, 0x98, 0, 0);
        var root = new PciAddress(0, 0x97, 1, 0);
        var vfs = Enumerable.Range(0, 4).Select(v => new PciAddress(0, 0x98, 0, (byte)(2 + v))).ToList();
        devices.Add(new PciDevice
        {
            Address = pf, VendorId = 0x15b3, DeviceId = 0x101d, ClassCode = 0x020000, Kind = DeviceKind.Nic, ModelName = "ConnectX-6 Dx",
            Driver = "mlx5_core", NumaNode = 1, UpstreamBridges = [root], IommuGroup = 10, Sriov = new SriovInfo(8, 4, true, vfs),
        });
        groups.Add(new IommuGroup(10, [pf]));
        for (int v = 0; v < vfs.Count; v++)
        {
            devices.Add(new PciDevice
            {
                Address = vfs[v], VendorId = 0x15b3, DeviceId = 0x101e, ClassCode = 0x020000, Kind = DeviceKind.Nic, ModelName = "ConnectX Family mlx5Gen Virtual Function",
                Driver = "mlx5_core", NumaNode = 1, UpstreamBridges = [root], IommuGroup = 11 + v, PhysicalFunction = pf,
            });
            groups.Add(new IommuGroup(11 + v, [vfs[v]]));
        }

        return new HostTopology
        {
            Cpus = cpus,
            NumaNodes =
            [
                Node(0, cpus, 256 * GiB, [10, 21], [new HugepagePool(1024 * 1024, 64, 64, 0)]),
                Node(1, cpus, 256 * GiB, [21, 10], [new HugepagePool(1024 * 1024, 64, 64, 0)]),
            ],
            PciDevices = [.. devices.OrderBy(d => d.Address)],
            IommuGroups = groups,
        };
    }

    private static HostTopology BuildWorkstation()
    {
        var cpus = SmtCpus(sockets: 1, coresPerSocket: 8, nodeOfSocket: _ => 0);
        var devices = new List<PciDevice>();
        var groups = new List<IommuGroup>();
        for (int i = 0; i < 2; i++)
        {
            var gpu = new PciAddress(0, (byte)(1 + i), 0, 0);
            var audio = gpu with { Function = 1 };
            var bridge = new PciAddress(0, 0, (byte)(1 + i), 0);
            devices.Add(new PciDevice { Address = bridge, VendorId = 0x8086, DeviceId = 0x1901, ClassCode = 0x060400, Kind = DeviceKind.Bridge, IommuGroup = 1 + i });
            devices.Add(Gpu(gpu, 0, "RTX A6000", 0x2230, [bridge], 1 + i));
            devices.Add(new PciDevice { Address = audio, VendorId = 0x10de, DeviceId = 0x1aef, ClassCode = 0x040300, Kind = DeviceKind.GpuAudio, Driver = "snd_hda_intel", NumaNode = 0, IommuGroup = 1 + i, UpstreamBridges = [bridge] });
            groups.Add(new IommuGroup(1 + i, [bridge, gpu, audio]));
        }

        return new HostTopology
        {
            Cpus = cpus,
            NumaNodes = [Node(0, cpus, 128 * GiB, [10], [new HugepagePool(1024 * 1024, 64, 64, 0), new HugepagePool(2048, 8192, 8192, 0)])],
            PciDevices = [.. devices.OrderBy(d => d.Address)],
            IommuGroups = groups,
        };
    }

    private static PciDevice Gpu(PciAddress address, int node, string model, ushort deviceId, IReadOnlyList<PciAddress> bridges, int group) => new()
    {
        Address = address, VendorId = 0x10de, DeviceId = deviceId, ClassCode = 0x030200, Kind = DeviceKind.Gpu, ModelName = model,
        Driver = "nvidia", NumaNode = node, UpstreamBridges = bridges, IommuGroup = group,
    };

    /// <summary>Linux numbering: first threads of every socket's cores, then the second threads.</summary>
    private static CpuTopology SmtCpus(int sockets, int coresPerSocket, Func<int, int> nodeOfSocket)
    {
        int cores = sockets * coresPerSocket;
        var list = new List<LogicalCpu>();
        for (int t = 0; t < 2; t++)
        {
            for (int s = 0; s < sockets; s++)
            {
                for (int c = 0; c < coresPerSocket; c++)
                {
                    int first = (s * coresPerSocket) + c;
                    int id = first + (t * cores);
                    list.Add(new LogicalCpu(id, s, 0, c, CpuSet.Of(first, first + cores), nodeOfSocket(s)));
                }
            }
        }

        CpuSet all = CpuSet.Of(list.Select(c => c.Id));
        return new CpuTopology { Online = all, Possible = all, Present = all, Cpus = [.. list.OrderBy(c => c.Id)] };
    }

    private static NumaNode Node(int id, CpuTopology cpus, long bytes, int[] distances, HugepagePool[] pools) => new()
    {
        Id = id,
        Cpus = CpuSet.Of(cpus.Cpus.Where(c => c.NumaNode == id).Select(c => c.Id)),
        MemoryTotalBytes = bytes,
        MemoryFreeBytes = bytes - (8 * GiB),
        Distances = distances,
        Hugepages = pools,
    };
}
