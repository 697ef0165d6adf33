namespace AiFactory.Agent.Leases;

/// <summary>One place where the ledger and the machine disagree, or where the machine could not be asked.</summary>
/// <param name="LeaseId">The lease concerned.</param>
/// <param name="Message">What disagrees, naming the resource.</param>
/// <param name="Unchecked">
/// True when the resource could not be checked (NVML absent or failing), or its absence is expected (a MIG instance
/// never created because binding is deferred): not known to be wrong, not known to be right.
/// Reported as <c>lease.unchecked</c>; a disagreement as <c>lease.drift</c>.
/// </param>
internal sealed record LeaseDiscrepancy(string LeaseId, string Message, bool Unchecked = false);
