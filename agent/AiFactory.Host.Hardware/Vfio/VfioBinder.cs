using System.Diagnostics;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Host.Hardware.Vfio;

/// <summary>
/// Binds PCI functions to vfio-pci and back, the kernel's way (the driverctl pattern): <c>driver_override</c>,
/// then <c>unbind</c> from the current driver, then <c>drivers_probe</c>, then the <c>driver</c> link is read back
/// (never <c>new_id</c>, which would grab every device with the same ids). Restoring clears the override and
/// probes again so the original driver takes the device back.
/// </summary>
/// <remarks>
/// Used by the profile applier and by leases. <see cref="BindGroups"/> takes whole IOMMU groups: a group is only
/// usable by a VM when every member is on vfio-pci (or has no driver).
/// </remarks>
public sealed class VfioBinder(SysfsTree sysfs, ISysfsWriter writer)
{
    /// <summary>The driver name.</summary>
    public const string VfioPci = "vfio-pci";

    /// <summary>How long to wait for the driver link after <c>drivers_probe</c> (probing is asynchronous for some drivers).</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The device's binding now.</summary>
    public DeviceBinding Current(PciAddress address)
    {
        string dev = Dev(address);
        if (!sysfs.Exists(dev))
        {
            throw new VfioBindException(address, "no such PCI device");
        }

        string? over = sysfs.Read(dev + "/driver_override");
        return new DeviceBinding(address, sysfs.LinkName(dev + "/driver"), over is null or "(null)" or "" ? null : over);
    }

    /// <summary>Whether the device is on the host (<c>bus/pci/devices/&lt;address&gt;</c> exists): false once it was removed or fell off the bus.</summary>
    public bool Present(PciAddress address) => sysfs.Exists(Dev(address));

    /// <summary>The IOMMU group of a device (target of <c>iommu_group</c>), or null without an IOMMU.</summary>
    public int? IommuGroup(PciAddress address) =>
        int.TryParse(sysfs.LinkName(Dev(address) + "/iommu_group"), System.Globalization.CultureInfo.InvariantCulture, out int g) ? g : null;

    /// <summary>The members of an IOMMU group (<c>kernel/iommu_groups/N/devices</c>).</summary>
    public IReadOnlyList<PciAddress> GroupMembers(int group) =>
        [.. sysfs.List($"kernel/iommu_groups/{group}/devices").Select(n => PciAddress.TryParse(n, out PciAddress a) ? (PciAddress?)a : null).OfType<PciAddress>().Order()];

    /// <summary>
    /// Binds one device to vfio-pci and returns how it was bound before. Does nothing (no write) when it is already
    /// on vfio-pci with the override set. Throws <see cref="SysfsWriteException"/> or <see cref="VfioBindException"/>.
    /// </summary>
    public DeviceBinding Bind(PciAddress address)
    {
        DeviceBinding before = Current(address);
        string dev = Dev(address);
        if (before.DriverOverride != VfioPci)
        {
            writer.Write(dev + "/driver_override", VfioPci);
        }

        if (before.Driver == VfioPci)
        {
            return before;
        }

        if (before.Driver is not null)
        {
            writer.Write(dev + "/driver/unbind", address.ToString());
        }

        writer.Write("bus/pci/drivers_probe", address.ToString());
        WaitForDriver(address, VfioPci);
        return before;
    }

    /// <summary>
    /// Binds every device of the groups that <paramref name="addresses"/> belong to (the IOMMU companions go along).
    /// <paramref name="beforeEach"/> is called with each device's current binding before it is touched (journal it
    /// there). On failure the devices already bound are restored and the exception is rethrown.
    /// </summary>
    public IReadOnlyList<DeviceBinding> BindGroups(IEnumerable<PciAddress> addresses, Action<DeviceBinding>? beforeEach = null)
    {
        var all = new SortedSet<PciAddress>();
        foreach (PciAddress a in addresses)
        {
            all.Add(a);
            if (IommuGroup(a) is int g)
            {
                all.UnionWith(GroupMembers(g));
            }
        }

        var done = new List<DeviceBinding>();
        try
        {
            foreach (PciAddress a in all)
            {
                beforeEach?.Invoke(Current(a));
                done.Add(Bind(a));
            }
        }
        catch
        {
            for (int i = done.Count - 1; i >= 0; i--)
            {
                try
                {
                    Restore(done[i]);
                }
                catch (IOException)
                {
                    // The first failure is the one reported; a restore that fails too leaves the device on vfio-pci.
                }
            }

            throw;
        }

        return done;
    }

    /// <summary>Puts a device back as <paramref name="original"/> says: override restored, original driver re-probed.</summary>
    public void Restore(DeviceBinding original)
    {
        DeviceBinding now = Current(original.Address);
        string dev = Dev(original.Address);
        if (now.DriverOverride != original.DriverOverride)
        {
            // An empty write (a lone newline) clears driver_override.
            writer.Write(dev + "/driver_override", original.DriverOverride ?? "\n");
        }

        if (now.Driver == original.Driver)
        {
            return;
        }

        if (now.Driver is not null)
        {
            writer.Write(dev + "/driver/unbind", original.Address.ToString());
        }

        if (original.Driver is not null)
        {
            writer.Write("bus/pci/drivers_probe", original.Address.ToString());
            WaitForDriver(original.Address, original.Driver);
        }
    }

    private void WaitForDriver(PciAddress address, string driver)
    {
        var clock = Stopwatch.StartNew();
        string? now;
        while ((now = sysfs.LinkName(Dev(address) + "/driver")) != driver)
        {
            if (clock.Elapsed > ProbeTimeout)
            {
                throw new VfioBindException(address, $"driver is {now ?? "none"} {ProbeTimeout.TotalSeconds:0.#} s after drivers_probe, expected {driver}");
            }

            Thread.Sleep(5);
        }
    }

    private static string Dev(PciAddress address) => "bus/pci/devices/" + address;
}
