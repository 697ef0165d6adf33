using AiFactory.Host.Model.Pci;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The boot-time driver overrides (the driverctl pattern): <c>/etc/aifactory/vfio-overrides.d/&lt;PCI address&gt;</c>
/// holding a driver name. The packaged udev rule (61-aifactory-vfio-overrides.rules) sets a device's
/// <c>driver_override</c> from its file when the device appears, before any driver probes it.
/// </summary>
public static class VfioOverrideFiles
{
    /// <summary>
    /// Every persisted override by device. Only files named as the kernel names the device (<c>0000:41:00.0</c>, the
    /// udev rule's <c>$kernel</c>) count: <c>41:00.0</c> or <c>0000:41:00.0</c> in capitals would never be read at boot.
    /// </summary>
    public static IReadOnlyDictionary<PciAddress, string> Read(string dir)
    {
        var result = new SortedDictionary<PciAddress, string>();
        if (!Directory.Exists(dir))
        {
            return result;
        }

        foreach (string file in Directory.EnumerateFiles(dir))
        {
            string name = Path.GetFileName(file);
            if (PciAddress.TryParse(name, out PciAddress address) && string.Equals(name, address.ToString(), StringComparison.Ordinal))
            {
                try
                {
                    // A driver name: a few bytes. Regular files only, bounded: nothing put in this directory blocks the agent.
                    if (BoundedFile.ReadText(file, 4096) is { } driver)
                    {
                        result[address] = driver.Trim();
                    }
                }
                catch (IOException)
                {
                    // Removed between the listing and the read: not persisted.
                }
            }
        }

        return result;
    }

    /// <summary>Writes (temp file, fsync, rename, fsync of the directory) or, for a null driver, removes (and fsyncs the directory) the device's override file.</summary>
    public static void Write(string dir, PciAddress address, string? driver)
    {
        string path = Path.Join(dir, address.ToString());
        if (driver is null)
        {
            File.Delete(path);
            if (Directory.Exists(dir))
            {
                DurableFile.SyncDirectory(dir);
            }

            return;
        }

        Directory.CreateDirectory(dir);
        DurableFile.WriteAtomically(path, System.Text.Encoding.ASCII.GetBytes(driver + "\n"));
    }
}
