using AiFactory.Agent.Metrics.Sources;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Metrics.Tests.Fixtures;

/// <summary>
/// A DGX H100 as literal data: 2 sockets × 56 cores × 2 threads (224 CPUs, 2 NUMA nodes), 8 H100 SXM5 GPUs
/// (4 per node, at the real DGX bus addresses), 4 NVSwitches, 8 ConnectX-7 NICs (one PF with 4 VFs), 2 NVMe,
/// 1 GiB and 2 MiB hugepage pools. GPUs on the NVIDIA driver carry the all-1g.10gb MIG layout (7 instances each);
/// the last <c>vfioGpus</c> GPUs are bound to vfio-pci and leased to a VM.
/// Shaped like hardware-fixtures/dgx-h100 so that the same numbers read from the captured tree later.
/// </summary>
internal static class DgxH100
{
    public static readonly string[] GpuBusIds = ["1b", "43", "52", "61", "9d", "c3", "d1", "df"];
    public static readonly string[] NicBusIds = ["18", "40", "4f", "5e", "9a", "c0", "ce", "dc"];
    public const string DriverVersion = "550.127.05";
    public const string ModelName = "NVIDIA H100 80GB HBM3";

    public static readonly CpuSet Node0Cpus = CpuSet.Parse("0-55,112-167");
    public static readonly CpuSet Node1Cpus = CpuSet.Parse("56-111,168-223");

    public static PciAddress GpuAddress(int index) => PciAddress.Parse($"0000:{GpuBusIds[index]}:00.0");

    public static PciAddress NicAddress(int index) => PciAddress.Parse($"0000:{NicBusIds[index]}:00.0");

    public static PciAddress VfAddress(int index) => PciAddress.Parse($"0000:{NicBusIds[0]}:00.{index + 1}");

    public static int NodeOf(int gpuIndex) => gpuIndex < 4 ? 0 : 1;

    public static NodeSnapshot Node(int vfioGpus)
    {
        var devices = new List<PciDevice>();
        for (int i = 0; i < 8; i++)
        {
            bool vfio = i >= 8 - vfioGpus;
            devices.Add(new PciDevice
            {
                Address = GpuAddress(i),
                VendorId = 0x10de,
                DeviceId = 0x2330,
                SubsystemVendorId = 0x10de,
                SubsystemDeviceId = 0x16c1,
                ClassCode = 0x030200,
                Kind = DeviceKind.Gpu,
                ModelName = "GH100 [H100 SXM5 80GB]",
                Driver = vfio ? "vfio-pci" : "nvidia",
                NumaNode = NodeOf(i),
                IommuGroup = 20 + i,
                // The last GPU runs at Gen4 (idle: power saving, not degraded); GPU 6 trained at x8 (a lost-lane fault).
                Link = new PcieLink(i == 7 ? 16.0 : 32.0, 32.0, i == 6 ? 8 : 16, 16) { PortMaxSpeedGts = 32.0, PortMaxWidth = 16 },
            });
        }

        for (int i = 0; i < 4; i++)
        {
            devices.Add(new PciDevice
            {
                Address = PciAddress.Parse($"0000:0{5 + i}:00.0"),
                VendorId = 0x10de,
                DeviceId = 0x22a3,
                ClassCode = 0x068000,
                Kind = DeviceKind.NvSwitch,
                Driver = "nvidia-nvswitch",
                NumaNode = 0,
                IommuGroup = 10 + i,
                Link = new PcieLink(16.0, 16.0, 2, 2),
            });
        }

        for (int i = 0; i < 8; i++)
        {
            devices.Add(new PciDevice
            {
                Address = NicAddress(i),
                VendorId = 0x15b3,
                DeviceId = 0x1021,
                ClassCode = 0x020700,
                Kind = DeviceKind.Nic,
                Driver = "mlx5_core",
                NumaNode = i < 4 ? 0 : 1,
                IommuGroup = 40 + i,
                // The last NIC sits behind a Gen4 port: 16 GT/s is all the slot gives, not a degraded link.
                Link = new PcieLink(i == 7 ? 16.0 : 32.0, 32.0, 16, 16) { PortMaxSpeedGts = i == 7 ? 16.0 : 32.0, PortMaxWidth = 16 },
                Sriov = i == 0 ? new SriovInfo(16, 4, false, [VfAddress(0), VfAddress(1), VfAddress(2), VfAddress(3)]) : null,
            });
        }

        for (int v = 0; v < 4; v++)
        {
            devices.Add(new PciDevice
            {
                Address = VfAddress(v),
                VendorId = 0x15b3,
                DeviceId = 0x101e,
                ClassCode = 0x020700,
                Kind = DeviceKind.Nic,
                // The first VF is passed through with the lease's GPUs.
                Driver = v == 0 ? "vfio-pci" : "mlx5_core",
                NumaNode = 0,
                IommuGroup = 60 + v,
                PhysicalFunction = NicAddress(0),
            });
        }

        for (int i = 0; i < 2; i++)
        {
            devices.Add(new PciDevice
            {
                Address = PciAddress.Parse($"0000:a{i}:00.0"),
                VendorId = 0x144d,
                DeviceId = 0xa80a,
                ClassCode = 0x010802,
                Kind = DeviceKind.Nvme,
                Driver = "nvme",
                NumaNode = 1,
                IommuGroup = 70 + i,
                Link = new PcieLink(16.0, 16.0, 4, 4),
            });
        }

        devices.Sort((a, b) => a.Address.CompareTo(b.Address));

        var cpus = new List<LogicalCpu>();
        foreach (int cpu in CpuSet.Parse("0-223"))
        {
            int core = cpu % 112;
            cpus.Add(new LogicalCpu(cpu, core / 56, 0, core % 56, CpuSet.Of(core, core + 112), core < 56 ? 0 : 1));
        }

        var topology = new HostTopology
        {
            Cpus = new CpuTopology
            {
                Online = CpuSet.Parse("0-223"),
                Possible = CpuSet.Parse("0-223"),
                Present = CpuSet.Parse("0-223"),
                Cpus = cpus,
            },
            NumaNodes =
            [
                new NumaNode
                {
                    Id = 0,
                    Cpus = Node0Cpus,
                    MemoryTotalBytes = 1_081_000_000_000,
                    Hugepages = [new HugepagePool(2048, 1024, 512, 0), new HugepagePool(1048576, 64, 64, 0)],
                },
                new NumaNode
                {
                    Id = 1,
                    Cpus = Node1Cpus,
                    MemoryTotalBytes = 1_082_000_000_000,
                    Hugepages = [new HugepagePool(2048, 1024, 1024, 0), new HugepagePool(1048576, 64, 48, 0)],
                },
            ],
            PciDevices = devices,
        };

        var aer = new Dictionary<PciAddress, AerCounters>();
        for (int i = 8 - vfioGpus; i < 8; i++)
        {
            aer[GpuAddress(i)] = new AerCounters(
                PciAerReader.Parse(
                    $"RxErr 0\nBadTLP {i - 3}\nBadDLLP 1\nRollover 0\nTimeout 0\nNonFatalErr 0\nCorrIntErr 0\nHeaderOF 0\nTOTAL_ERR_COR {i - 2}\n",
                    "aer_dev_correctable"),
                PciAerReader.Parse("Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 0\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\nMalfTLP 0\nECRC 0\nUnsupReq 0\nACSViol 0\nUncorrIntErr 0\nBlockedTLP 0\nAtomicOpBlocked 0\nTLPBlockedErr 0\nPoisonTLPBlocked 0\nTOTAL_ERR_NONFATAL 0\n", "aer_dev_nonfatal"),
                PciAerReader.Parse("Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 0\nCmpltAbrt 0\nUnxCmplt 0\nRxOF 0\nMalfTLP 0\nECRC 0\nUnsupReq 0\nACSViol 0\nUncorrIntErr 0\nBlockedTLP 0\nAtomicOpBlocked 0\nTLPBlockedErr 0\nPoisonTLPBlocked 0\nTOTAL_ERR_FATAL 0\n", "aer_dev_fatal"));
        }

        return new NodeSnapshot { Topology = topology, Aer = aer, HostReservedCpus = CpuSet.Parse("0-3,112-115") };
    }

    /// <summary>
    /// NVML's view: the GPUs on the nvidia driver, each with 7 × 1g.10gb MIG instances (GPU instance ids 7–13), except
    /// the first <paramref name="withoutMig"/> GPUs, which are not in MIG mode (busy: 12 % GPU, 3 % memory copy, 1 GiB used).
    /// </summary>
    public static GpuTelemetrySnapshot Gpus(int vfioGpus, string modelName = ModelName, int withoutMig = 0)
    {
        var gpus = new List<GpuTelemetry>();
        for (int i = 0; i < 8 - vfioGpus; i++)
        {
            bool mig = i >= withoutMig;
            var instances = new List<MigInstanceTelemetry>();
            for (int gi = 7; mig && gi <= 13; gi++)
            {
                instances.Add(new MigInstanceTelemetry(gi, "1g.10gb", FbUsedMiB: 13 + gi, FbFreeMiB: 9856 - 13 - gi));
            }

            gpus.Add(new GpuTelemetry
            {
                Index = i,
                Uuid = $"GPU-5a1c{i:x1}e2d-3f4b-4c6d-8e9f-0a1b2c3d4e{i:x1}0",
                PciBusId = $"00000000:{GpuBusIds[i].ToUpperInvariant()}:00.0",
                ModelName = modelName,
                GpuUtilPercent = mig ? null : 12, // NVML: NOT_SUPPORTED on a GPU in MIG mode
                MemCopyUtilPercent = mig ? null : 3,
                EncoderUtilPercent = 0,
                DecoderUtilPercent = 0,
                FbUsedMiB = mig ? 0 : 1024,
                FbFreeMiB = mig ? 81_559 : 80_535,
                FbReservedMiB = 0,
                GpuTempCelsius = 30 + i,
                MemoryTempCelsius = 28 + i,
                PowerWatts = 69.5 + i,
                TotalEnergyMillijoules = 123_456_789 + (i * 1000),
                SmClockMHz = 1980,
                MemClockMHz = 2619,
                PcieReplays = i == 2 ? 3 : 0,
                LastXid = i == 3 ? 79 : 0,
                EccSbeVolatile = 0,
                EccDbeVolatile = 0,
                EccSbeAggregate = i,
                EccDbeAggregate = 0,
                CorrectableRemappedRows = i == 1 ? 2 : 0,
                UncorrectableRemappedRows = 0,
                RowRemapFailure = false,
                MigInstances = instances,
            });
        }

        return new GpuTelemetrySnapshot(DriverVersion, gpus);
    }

    /// <summary>
    /// Two leases: one holds the vfio-bound GPUs (node 1) with node-1 CPUs and memory (aligned) and a VF; the other
    /// holds an NVMe drive on node 1 but CPUs and hugepages on node 0 (misaligned).
    /// </summary>
    public static IReadOnlyList<LeaseSnapshot> Leases(int vfioGpus)
    {
        var train = new LeaseSnapshot
        {
            Id = "l-7f3a",
            VmName = "vm-train-01",
            State = "active",
            Devices = [.. Enumerable.Range(8 - vfioGpus, vfioGpus).Select(GpuAddress), VfAddress(0)],
            Cpus = CpuSet.Parse("56-63,168-175"),
            DedicatedCpus = true,
            MemoryNumaNodes = [1],
            Hugepages = [new LeaseHugepages(1, 1048576, 16)],
        };
        var infer = new LeaseSnapshot
        {
            Id = "l-2b9c",
            VmName = "vm-infer-02",
            State = "active",
            Devices = [PciAddress.Parse("0000:a1:00.0")],
            Cpus = CpuSet.Parse("8-9"),
            DedicatedCpus = true,
            MemoryNumaNodes = [0],
            Hugepages = [new LeaseHugepages(0, 2048, 512)],
        };
        var pending = new LeaseSnapshot { Id = "l-9d01", State = "pending" };
        return [train, infer, pending];
    }
}
