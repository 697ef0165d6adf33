using AiFactory.Grpc;
using AiFactory.Host.Model.Leases;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Applies a lease to the devices: whole GPUs (with IOMMU-group companions) and VFs to vfio-pci, a MIG instance
/// created at its planned placement; and undoes it on release (original drivers back, MIG instance destroyed).
/// Both steps assert first and change only the difference, so repeating them is harmless. The vfio path belongs to
/// the node profile and the MIG calls to the NVML layer; this is the seam they plug into.
/// </summary>
internal interface ILeaseDeviceBinder
{
    /// <summary>A short description for logs ("vfio-pci via node profile", "not bound (deferred)").</summary>
    string Description { get; }

    /// <summary>
    /// Whether <see cref="Bind"/> changes anything for <paramref name="plan"/>: the ledger binds outside its lock,
    /// after storing a reservation, only then (a plan with nothing to bind is recorded as granted in one step).
    /// </summary>
    bool Changes(LeasePlan plan) => true;

    /// <summary>Binds the lease's devices; throws with a message naming the device on failure, having restored what it bound.</summary>
    void Bind(Lease lease);

    /// <summary>Restores the lease's devices.</summary>
    void Unbind(Lease lease);

    /// <summary>
    /// Gives the lease's devices back for its release or expiry, as <see cref="Unbind"/> does, except that a device
    /// (or MIG parent GPU) no longer on the host counts as given back, and with <paramref name="force"/> one that
    /// cannot be given back is left as it is. Returns one line for each such device (empty when everything was
    /// restored); throws as <see cref="Unbind"/> otherwise.
    /// </summary>
    IReadOnlyList<string> GiveBack(Lease lease, bool force)
    {
        try
        {
            Unbind(lease);
            return [];
        }
        catch (Exception ex) when (force && ex is RpcException or IOException or InvalidOperationException)
        {
            return [$"devices: giving them back failed ({ex.Message}); left as they are (released with force)"];
        }
    }
}

/// <summary>
/// Records leases without touching devices: used wherever the agent runs read-only (a fixture sysfs root, not
/// root, read-only: true). Each lease says in its log line that binding was deferred.
/// </summary>
internal sealed class DeferredDeviceBinder(string reason) : ILeaseDeviceBinder
{
    public DeferredDeviceBinder()
        : this("no binder wired")
    {
    }

    public string Description => "devices NOT bound (" + reason + ")";

    public bool Changes(LeasePlan plan) => false;

    public void Bind(Lease lease)
    {
    }

    public void Unbind(Lease lease)
    {
    }
}
