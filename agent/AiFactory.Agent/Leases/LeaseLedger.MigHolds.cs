using AiFactory.Agent.Gpu;
using AiFactory.Host.Model.Gpu;
using Lease = AiFactory.Host.Model.Leases.Lease;

namespace AiFactory.Agent.Leases;

/// <summary>The ledger as the source of the MIG instances leases hold (see <see cref="IMigHolds"/>).</summary>
internal sealed partial class LeaseLedger : IMigHolds
{
    /// <summary>
    /// Runs <paramref name="action"/> under the ledger's lock with the GPU instances of every holding lease, so no
    /// lease is granted or released (and no instance created or destroyed for one) until it returns.
    /// </summary>
    public T While<T>(Func<IReadOnlyList<MigHold>, T> action)
    {
        lock (_gate)
        {
            return action([.. _leases.Values.Where(e => e.Holds && e.Lease.Plan.Mig is not null).Select(e => Hold(e.Lease))]);
        }
    }

    private static MigHold Hold(Lease lease)
    {
        Host.Model.Leases.MigPlacement mig = lease.Plan.Mig!;
        return new MigHold(mig.Gpu, mig.Profile, new MigPlacement((uint)mig.PlacementStart, (uint)mig.PlacementSize), lease.Id);
    }
}
