using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The boot-time driver overrides (the driverctl pattern): <c>/etc/aifactory/vfio-overrides.d/&lt;PCI address&gt;</c>
/// holding a driver name. The packaged udev rule (61-aifactory-vfio-overrides.rules) sets a device's
/// <c>driver_override</c> from its file when the device appears, before any driver probes it.
/// </summary>
public static class VfioOverrideFiles
{
    /// <summary>Every persisted override by device; files whose name is not a PCI address are ignored.</summary>
    public static IReadOnlyDictionary<PciAddress, string> Read(string dir)
    {
        var result = new SortedDictionary<PciAddress, string>();
        if (!Directory.Exists(dir))
        {
            return result;
        }

        foreach (string file in Directory.EnumerateFiles(dir))
        {
            if (PciAddress.TryParse(Path.GetFileName(file), out PciAddress address))
            {
                try
                {
                    result[address] = File.ReadAllText(file).Trim();
                }
                catch (IOException)
                {
                    // Removed between the listing and the read: not persisted.
                }
            }
        }

        return result;
    }

    /// <summary>Writes (temp file, fsync, rename, fsync of the directory) or, for a null driver, removes the device's override file.</summary>
    public static void Write(string dir, PciAddress address, string? driver)
    {
        string path = Path.Join(dir, address.ToString());
        if (driver is null)
        {
            File.Delete(path);
            return;
        }

        Directory.CreateDirectory(dir);
        DurableFile.WriteAtomically(path, System.Text.Encoding.ASCII.GetBytes(driver + "\n"));
    }
}
