using System.Globalization;

namespace AiFactory.Benchmarks.Profile;

/// <summary>
/// A DGX-H100-shaped sysfs tree in a temp folder, already in the state the DGX profile asks for (8 GPUs on
/// vfio-pci, 8 ConnectX PFs with 8 VFs each on vfio-pci, 1G pages on both nodes), for the no-op re-apply benchmark.
/// </summary>
internal sealed class DgxProfileTree : IDisposable
{
    public static readonly byte[] GpuBuses = [0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb];

    public const string Profile = """
        version: v1
        vfio:
          devices: [nvidia-gpus]
          hostDevices: [0000:c1:00.0, 0000:c2:00.0]
        sriov:
          - {pf: 0000:17:00.0, numVfs: 8, driversAutoprobe: false, vfDriver: vfio-pci}
          - {pf: 0000:29:00.0, numVfs: 8, driversAutoprobe: false, vfDriver: vfio-pci}
          - {pf: 0000:39:00.0, numVfs: 8, driversAutoprobe: false, vfDriver: vfio-pci}
          - {pf: 0000:5c:00.0, numVfs: 8, driversAutoprobe: false, vfDriver: vfio-pci}
          - {pf: 0000:99:00.0, numVfs: 8, driversAutoprobe: false, vfDriver: vfio-pci}
          - {pf: 0000:aa:00.0, numVfs: 8, driversAutoprobe: false, vfDriver: vfio-pci}
          - {pf: 0000:b9:00.0, numVfs: 8, driversAutoprobe: false, vfDriver: vfio-pci}
          - {pf: 0000:da:00.0, numVfs: 8, driversAutoprobe: false, vfDriver: vfio-pci}
        hugepages:
          - {node: 0, size: 1G, count: 512}
          - {node: 1, size: 1G, count: 512}
          - {node: 0, size: 2M, count: 1024}
          - {node: 1, size: 2M, count: 1024}
        """;

    public DgxProfileTree()
    {
        Root = Path.Join(Path.GetTempPath(), "aif-bench-dgx-" + Guid.NewGuid().ToString("N"), "sys");
        Write("devices/system/cpu/online", "0-223");
        Write("devices/system/cpu/possible", "0-223");
        Write("devices/system/cpu/present", "0-223");
        Write("devices/system/cpu/isolated", string.Empty);
        Directory.CreateDirectory(P("bus/pci/drivers/vfio-pci"));
        int group = 10;
        for (int i = 0; i < GpuBuses.Length; i++)
        {
            Device($"0000:{GpuBuses[i]:x2}:00.0", "10de", "2330", "030200", "vfio-pci", group++);
            string pf = $"0000:{GpuBuses[i] - 1:x2}:00.0";
            Device(pf, "15b3", "1021", "020000", "mlx5_core", group++);
            Write($"bus/pci/devices/{pf}/sriov_totalvfs", "16");
            Write($"bus/pci/devices/{pf}/sriov_numvfs", "8");
            Write($"bus/pci/devices/{pf}/sriov_drivers_autoprobe", "0");
            for (int v = 0; v < 8; v++)
            {
                string vf = $"0000:{GpuBuses[i] - 1:x2}:{(v + 1) / 8:x2}.{(v + 1) % 8:x1}";
                Device(vf, "15b3", "101e", "020000", "vfio-pci", group++);
                File.CreateSymbolicLink(P($"bus/pci/devices/{pf}/virtfn{v}"), $"../{vf}");
                File.CreateSymbolicLink(P($"bus/pci/devices/{vf}/physfn"), $"../{pf}");
            }
        }

        Device("0000:c1:00.0", "144d", "a824", "010802", "nvme", group++);
        Device("0000:c2:00.0", "8086", "1592", "020000", "ice", group);
        for (int n = 0; n < 2; n++)
        {
            string dir = $"devices/system/node/node{n}";
            Write(dir + "/cpulist", n == 0 ? "0-55,112-167" : "56-111,168-223");
            Write(dir + "/meminfo", $"Node {n} MemTotal:       1056964608 kB");
            Write($"{dir}/hugepages/hugepages-1048576kB/nr_hugepages", "512");
            Write($"{dir}/hugepages/hugepages-2048kB/nr_hugepages", "1024");
        }
    }

    public string Root { get; }

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(Root)!, recursive: true);

    private string P(string relative) => Path.Join(Root, relative);

    private void Write(string relative, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(P(relative))!);
        File.WriteAllText(P(relative), text + "\n");
    }

    private void Device(string address, string vendor, string device, string cls, string driver, int group)
    {
        string dev = $"bus/pci/devices/{address}";
        Write(dev + "/vendor", "0x" + vendor);
        Write(dev + "/device", "0x" + device);
        Write(dev + "/class", "0x" + cls);
        Write(dev + "/driver_override", driver == "vfio-pci" ? "vfio-pci" : "(null)");
        Directory.CreateDirectory(P($"bus/pci/drivers/{driver}"));
        File.CreateSymbolicLink(P(dev + "/driver"), $"../../../../bus/pci/drivers/{driver}");
        Directory.CreateDirectory(P($"kernel/iommu_groups/{group.ToString(CultureInfo.InvariantCulture)}/devices"));
        File.CreateSymbolicLink(P(dev + "/iommu_group"), $"../../../../kernel/iommu_groups/{group}");
        File.CreateSymbolicLink(P($"kernel/iommu_groups/{group}/devices/{address}"), $"../../../../bus/pci/devices/{address}");
    }
}
