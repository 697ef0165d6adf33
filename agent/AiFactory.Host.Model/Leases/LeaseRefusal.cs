namespace AiFactory.Host.Model.Leases;

/// <summary>
/// Why a request cannot be planned: which field was wrong (<see cref="RefusalKind.InvalidRequest"/>), which
/// resource on which NUMA node fell short (<see cref="RefusalKind.Insufficient"/>), or what on the host uses what
/// would otherwise be leased (<see cref="RefusalKind.InUse"/>).
/// </summary>
/// <param name="Kind">Bad request, not enough, or in use on the host.</param>
/// <param name="Field">The request field at fault, e.g. <c>gpus.model</c>, <c>vcpus</c>, <c>memory</c>.</param>
/// <param name="Node">The NUMA node that fell short, when one did.</param>
/// <param name="Message">One line: what was asked, what is there.</param>
public sealed record LeaseRefusal(RefusalKind Kind, string Field, int? Node, string Message)
{
    /// <summary>"field: message".</summary>
    public override string ToString() => $"{Field}: {Message}";
}

/// <summary>The ways a request fails.</summary>
public enum RefusalKind
{
    /// <summary>The request itself is wrong (a model that does not exist, more GPUs than the host has, bad sizes).</summary>
    InvalidRequest,

    /// <summary>The request is sound but the free resources do not cover it now.</summary>
    Insufficient,

    /// <summary>
    /// The resources are free of leases, but the host uses them (compute processes on a GPU): they would cover the
    /// request once that stops.
    /// </summary>
    InUse,
}
