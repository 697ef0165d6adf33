using System.Globalization;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Profile.Tests.Kernel;

/// <summary>
/// Builds a small sysfs tree in a temp folder, laid out like the kernel's (bus/pci/devices/ADDR with driver and
/// iommu_group links, kernel/iommu_groups, node hugepage pools, cpu lists). Shaped like the QEMU lab guest.
/// </summary>
internal sealed class FakeSysfs : IDisposable
{
    public FakeSysfs()
    {
        Root = Path.Join(Path.GetTempPath(), "aif-profile-" + Guid.NewGuid().ToString("N"), "sys");
        Directory.CreateDirectory(Root);
        Write("bus/pci/drivers_probe", string.Empty);
        Dir("bus/pci/drivers");
        Write("devices/system/cpu/online", "0-3");
        Write("devices/system/cpu/possible", "0-3");
        Write("devices/system/cpu/present", "0-3");
        Write("devices/system/cpu/isolated", string.Empty);
        Write("devices/system/cpu/nohz_full", "(null)");
    }

    public string Root { get; }

    public string StateDir => Path.Join(Path.GetDirectoryName(Root)!, "state");

    /// <summary>The driver each device gets from drivers_probe when no override is set.</summary>
    public Dictionary<PciAddress, string> NativeDriver { get; } = [];

    public string P(string relative) => Path.Join(Root, relative);

    public void Write(string relative, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(P(relative))!);
        File.WriteAllText(P(relative), text + "\n");
    }

    public string? Read(string relative) => File.Exists(P(relative)) ? File.ReadAllText(P(relative)).Trim() : null;

    public string? DriverOf(PciAddress a) => new FileInfo(P($"bus/pci/devices/{a}/driver")).LinkTarget is string t ? Path.GetFileName(t) : null;

    public FakeSysfs Device(string address, ushort vendor, ushort device, uint cls, string? driver, int? group)
    {
        PciAddress a = PciAddress.Parse(address);
        string dev = $"bus/pci/devices/{a}";
        Dir(dev);
        Write(dev + "/vendor", "0x" + vendor.ToString("x4", CultureInfo.InvariantCulture));
        Write(dev + "/device", "0x" + device.ToString("x4", CultureInfo.InvariantCulture));
        Write(dev + "/class", "0x" + cls.ToString("x6", CultureInfo.InvariantCulture));
        Write(dev + "/driver_override", "(null)");
        Write(dev + "/numa_node", "-1");
        if (driver is not null)
        {
            NativeDriver[a] = driver;
            LinkDriver(a, driver);
        }

        if (group is int g)
        {
            Dir($"kernel/iommu_groups/{g}/devices");
            File.CreateSymbolicLink(P(dev + "/iommu_group"), $"../../../../kernel/iommu_groups/{g}");
            File.CreateSymbolicLink(P($"kernel/iommu_groups/{g}/devices/{a}"), $"../../../../bus/pci/devices/{a}");
        }

        return this;
    }

    public FakeSysfs Sriov(string address, int total)
    {
        string dev = $"bus/pci/devices/{PciAddress.Parse(address)}";
        Write(dev + "/sriov_totalvfs", total.ToString(CultureInfo.InvariantCulture));
        Write(dev + "/sriov_numvfs", "0");
        Write(dev + "/sriov_drivers_autoprobe", "1");
        return this;
    }

    public FakeSysfs Node(int id, string cpus, long memKiB, params long[] poolSizesKiB)
    {
        string dir = $"devices/system/node/node{id}";
        Write(dir + "/cpulist", cpus);
        Write(dir + "/meminfo", $"Node {id} MemTotal:       {memKiB} kB\nNode {id} MemFree:        {memKiB / 2} kB");
        foreach (long size in poolSizesKiB)
        {
            Write($"{dir}/hugepages/hugepages-{size}kB/nr_hugepages", "0");
            Write($"{dir}/hugepages/hugepages-{size}kB/free_hugepages", "0");
            Write($"{dir}/hugepages/hugepages-{size}kB/surplus_hugepages", "0");
        }

        return this;
    }

    public void LinkDriver(PciAddress a, string driver)
    {
        Dir($"bus/pci/drivers/{driver}");
        string link = P($"bus/pci/devices/{a}/driver");
        if (File.Exists(link) || new FileInfo(link).LinkTarget is not null)
        {
            File.Delete(link);
        }

        File.CreateSymbolicLink(link, $"../../../../bus/pci/drivers/{driver}");
        Directory.CreateDirectory(P($"bus/pci/devices/{a}/driver"));
    }

    public void UnlinkDriver(PciAddress a)
    {
        string link = P($"bus/pci/devices/{a}/driver");
        if (new FileInfo(link).LinkTarget is not null)
        {
            File.Delete(link);
        }
    }

    /// <summary>The lab guest: SR-IOV NVMe PF, e1000e (the management NIC), a plain NVMe, a bridge group with two e1000s, two nodes.</summary>
    public static FakeSysfs LabGuest()
    {
        var fs = new FakeSysfs()
            .Device("0000:00:01.0", 0x1b36, 0x000c, 0x060400, "pcieport", 1)
            .Device("0000:01:00.0", 0x1b36, 0x0010, 0x010802, "nvme", 7).Sriov("0000:01:00.0", 4)
            .Device("0000:02:00.0", 0x8086, 0x10d3, 0x020000, "e1000e", 8)
            .Device("0000:03:00.0", 0x1b36, 0x0010, 0x010802, "nvme", 9)
            .Device("0000:04:00.0", 0x1b36, 0x000e, 0x060400, null, 10)
            .Device("0000:05:01.0", 0x8086, 0x100e, 0x020000, "e1000", 10)
            .Device("0000:05:02.0", 0x8086, 0x100e, 0x020000, "e1000", 10)
            .Device("0000:81:00.0", 0x1b36, 0x0010, 0x010802, "nvme", 12)
            .Node(0, "0-1", 2 * 1024 * 1024, 2048, 1048576)
            .Node(1, "2-3", 2 * 1024 * 1024, 2048, 1048576);
        return fs;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path.GetDirectoryName(Root)!, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Dir(string relative) => Directory.CreateDirectory(P(relative));
}
