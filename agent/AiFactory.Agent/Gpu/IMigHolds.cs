using AiFactory.Host.Model.Gpu;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// The GPU instances leases hold, as the lease ledger records them: what <see cref="MigApplier"/> and the node profile
/// must plan around. <see cref="While{T}"/> keeps the holds fixed (no lease granted or released) while a MIG change
/// runs, so a lease's instance created meanwhile can never be taken for an unwanted one and destroyed.
/// </summary>
internal interface IMigHolds
{
    /// <summary>
    /// Runs <paramref name="action"/> with the held instances; no lease is granted or released until it returns.
    /// Lock order: the ledger first, then the MIG applier (a lease grant creates its instance the same way).
    /// </summary>
    T While<T>(Func<IReadOnlyList<MigHold>, T> action);
}

/// <summary>No ledger (tests of the MIG layer alone): nothing is held. The offline <c>profile</c> command reads the stored ledger (<see cref="Leases.StoredLeaseHolds"/>).</summary>
internal sealed class NoMigHolds : IMigHolds
{
    public static readonly NoMigHolds Instance = new();

    public T While<T>(Func<IReadOnlyList<MigHold>, T> action) => action([]);
}
