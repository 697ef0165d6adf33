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

    public void Unbind(Lease lease) => GiveBack(lease, force: false);

    /// <remarks>
    /// A function gone from <c>bus/pci/devices</c> (hot-removed, fallen off the bus) has no driver to go back to:
    /// it counts as given back, so a lease whose GPU vanished can still end and free its CPUs and hugepages.
    /// </remarks>
    public IReadOnlyList<string> GiveBack(Lease lease, bool force)
    {
        var left = new List<string>();
        for (int i = lease.Plan.Devices.Count - 1; i >= 0; i--)
        {
            LeasedDevice d = lease.Plan.Devices[i];
            string original = d.OriginalDriver ?? "no driver";
            if (!binder.Present(d.Address))
            {
                left.Add(Vanished(d));
                continue;
            }

            try
            {
                binder.Restore(new DeviceBinding(d.Address, d.OriginalDriver, d.OriginalDriverOverride));
            }
            catch (IOException) when (!binder.Present(d.Address))
            {
                left.Add(Vanished(d));
            }
            catch (IOException ex) when (force)
            {
                left.Add($"{d.Address}: giving it back to {original} failed ({ex.Message}); left as it is (released with force)");
            }
            catch (IOException ex)
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"id: giving {d.Address} back to {original} failed ({ex.Message}); lease {lease.Id} still holds it (release with force to record the release anyway)");
            }
        }

        return left;
    }

    private static string Vanished(LeasedDevice d) => $"{d.Address}: not on the host any more ({d.Role}); counted as given back";

    private static string Field(LeasedDevice d) => d.Role == DeviceRole.VirtualFunction ? "vfs" : "gpus";
}
