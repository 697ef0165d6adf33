using System.Globalization;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Profile.Tests.Kernel;

/// <summary>
/// A test double of the kernel's answers to sysfs writes over a <see cref="FakeSysfs"/> tree: driver_override is
/// stored, unbind removes the driver link, drivers_probe binds the override (or the native driver), sriov_numvfs
/// N→M with both non-zero fails with EBUSY and otherwise creates or removes VFs with virtfn links, and
/// nr_hugepages can be capped to model a shortfall. Counts writes.
/// </summary>
internal sealed class KernelSimulator(FakeSysfs fs) : ISysfsWriter
{
    public string Root => fs.Root;

    public int WriteCount { get; private set; }

    public List<string> Log { get; } = [];

    /// <summary>nr_hugepages path → the most the kernel will give.</summary>
    public Dictionary<string, long> HugepageLimit { get; } = [];

    /// <summary>Paths whose next write fails with this errno.</summary>
    public Dictionary<string, int> FailNext { get; } = [];

    /// <summary>(path, value) pairs whose every write fails with this errno (an undo the kernel keeps refusing).</summary>
    public Dictionary<(string Path, string Value), int> FailAlways { get; } = [];

    public void Write(string relativePath, string value)
    {
        SysfsPath.Combine(Root, relativePath);
        WriteCount++;
        Log.Add($"{relativePath} <- {value.Trim()}");
        string v = value.Trim();
        if (FailNext.Remove(relativePath, out int errno) || FailAlways.TryGetValue((relativePath, v), out errno))
        {
            throw new SysfsWriteException(relativePath, value, errno, "simulated failure");
        }

        if (relativePath.EndsWith("/driver_override", StringComparison.Ordinal))
        {
            fs.Write(relativePath, v.Length == 0 ? "(null)" : v);
        }
        else if (relativePath.EndsWith("/driver/unbind", StringComparison.Ordinal))
        {
            PciAddress a = PciAddress.Parse(v);
            if (fs.DriverOf(a) is null)
            {
                throw new SysfsWriteException(relativePath, value, 19, "No such device");
            }

            fs.UnlinkDriver(a);
        }
        else if (relativePath == "bus/pci/drivers_probe")
        {
            PciAddress a = PciAddress.Parse(v);
            if (fs.DriverOf(a) is not null)
            {
                return;
            }

            string? over = fs.Read($"bus/pci/devices/{a}/driver_override");
            string? driver = over is null or "(null)" ? fs.NativeDriver.GetValueOrDefault(a) : over;
            if (driver is not null && Directory.Exists(fs.P($"bus/pci/drivers/{driver}")))
            {
                fs.LinkDriver(a, driver);
            }
        }
        else if (relativePath.EndsWith("/sriov_numvfs", StringComparison.Ordinal))
        {
            SetNumVfs(relativePath, int.Parse(v, CultureInfo.InvariantCulture));
        }
        else if (relativePath.EndsWith("/nr_hugepages", StringComparison.Ordinal))
        {
            long asked = long.Parse(v, CultureInfo.InvariantCulture);
            long limit = HugepageLimit.GetValueOrDefault(relativePath, long.MaxValue);
            fs.Write(relativePath, Math.Min(asked, limit).ToString(CultureInfo.InvariantCulture));
        }
        else
        {
            if (!File.Exists(fs.P(relativePath)))
            {
                throw new SysfsWriteException(relativePath, value, 2, "No such file or directory");
            }

            fs.Write(relativePath, v);
        }
    }

    private void SetNumVfs(string relativePath, int count)
    {
        string dev = Path.GetDirectoryName(relativePath)!;
        PciAddress pf = PciAddress.Parse(Path.GetFileName(dev));
        int now = int.Parse(fs.Read(relativePath)!, CultureInfo.InvariantCulture);
        if (now != 0 && count != 0)
        {
            throw new SysfsWriteException(relativePath, count.ToString(CultureInfo.InvariantCulture), 16, "Device or resource busy");
        }

        for (int i = 0; i < now; i++)
        {
            PciAddress vf = pf with { Function = (byte)(pf.Function + 1 + i) };
            File.Delete(fs.P($"{dev}/virtfn{i}"));
            Directory.Delete(fs.P($"bus/pci/devices/{vf}"), recursive: true);
            Directory.Delete(fs.P($"kernel/iommu_groups/{100 + vf.Function}"), recursive: true);
        }

        bool autoprobe = fs.Read(dev + "/sriov_drivers_autoprobe") == "1";
        for (int i = 0; i < count; i++)
        {
            PciAddress vf = pf with { Function = (byte)(pf.Function + 1 + i) };
            fs.Device(vf.ToString(), 0x1b36, 0x0010, 0x010802, null, 100 + vf.Function);
            File.CreateSymbolicLink(fs.P($"bus/pci/devices/{vf}/physfn"), $"../{pf}");
            File.CreateSymbolicLink(fs.P($"{dev}/virtfn{i}"), $"../{vf}");
            if (autoprobe && fs.NativeDriver.TryGetValue(pf, out string? driver))
            {
                fs.NativeDriver[vf] = driver;
                fs.LinkDriver(vf, driver);
            }
        }

        fs.Write(relativePath, count.ToString(CultureInfo.InvariantCulture));
    }
}
