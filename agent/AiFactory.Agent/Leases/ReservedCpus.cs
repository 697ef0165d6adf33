using AiFactory.Host.Model.Cpu;

namespace AiFactory.Agent.Leases;

/// <summary>The host-reserved CPUs as of one read of the node profile, and why they are unknown (null when known).</summary>
/// <param name="Cpus">CPUs never handed out; empty when no profile reserves any.</param>
/// <param name="Unknown">Why <paramref name="Cpus"/> cannot be trusted (see <see cref="ILeaseHost.HostReservedCpusUnknown"/>); null when it can.</param>
internal readonly record struct ReservedCpus(CpuSet Cpus, string? Unknown);
