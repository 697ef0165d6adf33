using AiFactory.Agent.Gpu;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Leases;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Adds MIG to a device binder: a lease with a MIG placement gets its GPU and compute instance created at exactly
/// the planned placement (read back) before the other devices are bound, and destroyed after they are restored.
/// A failure anywhere removes the instance again, so nothing stays reserved (the ledger drops the lease).
/// </summary>
internal sealed class MigLeaseBinder(ILeaseDeviceBinder inner, MigApplier applier) : ILeaseDeviceBinder
{
    public string Description => inner.Description + "; MIG instances created through NVML";

    public bool Changes(LeasePlan plan) => plan.Mig is not null || inner.Changes(plan);

    public void Bind(Lease lease)
    {
        if (lease.Plan.Mig is not { } mig)
        {
            inner.Bind(lease);
            return;
        }

        try
        {
            applier.CreateAt(mig.Gpu.ToString(), mig.Profile, (uint)mig.PlacementStart, (uint)mig.PlacementSize);
        }
        catch (Exception ex) when (ex is NvmlException or MigRefusedException or InvalidOperationException or KeyNotFoundException)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"mig.profile: creating {mig.Profile} at {mig.PlacementStart}:{mig.PlacementSize} on {mig.Gpu} failed: {ex.Message}");
        }

        try
        {
            inner.Bind(lease);
        }
        catch
        {
            Destroy(lease.Id, mig);
            throw;
        }
    }

    public void Unbind(Lease lease)
    {
        inner.Unbind(lease);
        if (lease.Plan.Mig is { } mig)
        {
            Destroy(lease.Id, mig);
        }
    }

    /// <remarks>
    /// A MIG parent GPU that NVML cannot reach any more (lost, fallen off the bus, gone from its device list) takes
    /// its instances with it: the instance counts as destroyed, so the lease can still end.
    /// </remarks>
    public IReadOnlyList<string> GiveBack(Lease lease, bool force)
    {
        List<string> left = [.. inner.GiveBack(lease, force)];
        if (lease.Plan.Mig is not { } mig)
        {
            return left;
        }

        string instance = $"MIG instance {mig.Profile} at {mig.PlacementStart}:{mig.PlacementSize} on {mig.Gpu}";
        try
        {
            applier.DestroyAt(mig.Gpu.ToString(), mig.Profile, (uint)mig.PlacementStart, forLease: lease.Id);
        }
        catch (Exception ex) when (GpuGone(ex))
        {
            left.Add($"{instance}: the GPU is gone ({ex.Message}); counted as destroyed");
        }
        catch (Exception ex) when (force && Refused(ex))
        {
            left.Add($"{instance}: destroying it failed ({ex.Message}); left as it is (released with force)");
        }
        catch (Exception ex) when (Refused(ex))
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"mig.profile: destroying {mig.Profile} at {mig.PlacementStart}:{mig.PlacementSize} on {mig.Gpu} failed: {ex.Message}");
        }

        return left;
    }

    // NVML has lost the GPU, or no longer lists it (GpuInventory.Resolve skips GPUs it cannot reach).
    private static bool GpuGone(Exception ex) =>
        ex is KeyNotFoundException || ex is NvmlException { Code: NvmlReturn.GpuIsLost or NvmlReturn.GpuNotFound };

    private static bool Refused(Exception ex) => ex is NvmlException or MigRefusedException or InvalidOperationException or KeyNotFoundException;

    private void Destroy(string leaseId, MigPlacement mig)
    {
        try
        {
            // The lease's own instance: the applier refuses to destroy a held instance for anyone else.
            applier.DestroyAt(mig.Gpu.ToString(), mig.Profile, (uint)mig.PlacementStart, forLease: leaseId);
        }
        catch (Exception ex) when (Refused(ex))
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"mig.profile: destroying {mig.Profile} at {mig.PlacementStart}:{mig.PlacementSize} on {mig.Gpu} failed: {ex.Message}");
        }
    }
}
