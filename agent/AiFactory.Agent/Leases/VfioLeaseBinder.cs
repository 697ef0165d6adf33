using AiFactory.Grpc;
using AiFactory.Host.Hardware.Vfio;
using AiFactory.Host.Model.Leases;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Binds a lease's GPUs (with their IOMMU-group companions) and VFs to vfio-pci through the node profile's
/// <see cref="VfioBinder"/> (driver_override → unbind → drivers_probe → read back), and restores the drivers the plan
/// recorded on release. Binding already-bound devices writes nothing, so it is safe to repeat.
/// </summary>
/// <remarks>
/// It binds exactly the plan's functions: the planner already put every non-bridge member of each GPU's IOMMU group
/// in the plan. A PCI bridge sharing the group stays on pcieport (which vfio accepts in a viable group, and vfio-pci
/// would refuse anyway), so <see cref="VfioBinder.BindGroups"/>, which takes every member, is not used here. When one
/// function fails, those already bound are restored before the error goes up (FailedPrecondition naming the
/// device), so nothing stays half-bound and the ledger drops the lease.
/// </remarks>
internal sealed class VfioLeaseBinder(VfioBinder binder) : ILeaseDeviceBinder
{
    public string Description => "devices bound to vfio-pci";

    public bool Changes(LeasePlan plan) => plan.Devices.Count > 0;

    public void Bind(Lease lease)
    {
        var done = new List<DeviceBinding>();
        foreach (LeasedDevice d in lease.Plan.Devices)
        {
            try
            {
                done.Add(binder.Bind(d.Address));
            }
            catch (IOException ex)
            {
                // VfioBindException and SysfsWriteException are IOExceptions.
                for (int i = done.Count - 1; i >= 0; i--)
                {
                    try
                    {
                        binder.Restore(done[i]);
                    }
                    catch (IOException)
                    {
                        // The first failure is the one reported.
                    }
                }

                throw new RpcException(StatusCode.FailedPrecondition, $"{Field(d)}: binding {d.Address} to vfio-pci failed ({ex.Message}); nothing was reserved");
            }
        }
    }

    public void Unbind(Lease lease)
    {
        for (int i = lease.Plan.Devices.Count - 1; i >= 0; i--)
        {
            LeasedDevice d = lease.Plan.Devices[i];
            try
            {
                binder.Restore(new DeviceBinding(d.Address, d.OriginalDriver, null));
            }
            catch (IOException ex)
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"id: giving {d.Address} back to {d.OriginalDriver ?? "no driver"} failed ({ex.Message}); lease {lease.Id} still holds it");
            }
        }
    }

    private static string Field(LeasedDevice d) => d.Role == DeviceRole.VirtualFunction ? "vfs" : "gpus";
}
