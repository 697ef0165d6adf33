using AiFactory.Agent.Gpu;
using AiFactory.Host.Model.Gpu;

namespace AiFactory.Gpu.Tests;

/// <summary>Holds a test sets, as the lease ledger would report them.</summary>
internal sealed class FixedMigHolds(params MigHold[] held) : IMigHolds
{
    public List<MigHold> Held { get; } = [.. held];

    public T While<T>(Func<IReadOnlyList<MigHold>, T> action) => action([.. Held]);
}
