using AiFactory.Host.Hardware.Vfio;
using AiFactory.Host.Model.Leases;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Binds a lease's GPUs (with their IOMMU-group companions) and VFs to vfio-pci through the node profile's
/// <see cref="VfioBinder"/> (driver_override → unbind → drivers_probe → read back), and restores the drivers the plan
/// recorded on release. Binding already-bound devices writes nothing, so it is safe to repeat.
/// </summary>
internal sealed class VfioLeaseBinder(VfioBinder binder) : ILeaseDeviceBinder
{
    public string Description => "devices bound to vfio-pci";

    public void Bind(Lease lease)
    {
        var addresses = lease.Plan.Devices.Select(d => d.Address).ToList();
        if (addresses.Count > 0)
        {
            binder.BindGroups(addresses);
        }
    }

    public void Unbind(Lease lease)
    {
        foreach (LeasedDevice d in lease.Plan.Devices)
        {
            binder.Restore(new DeviceBinding(d.Address, d.OriginalDriver, null));
        }
    }
}
