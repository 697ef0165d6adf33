using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Host.Planning.Profile;

/// <summary>
/// What leases hold outside MIG (<see cref="ProfileCurrentState.Leases"/>): a held function is never unbound or bound
/// again, the VF count of a PF whose VFs are held never changes, a pool never shrinks below the pages held, and the
/// host-reserved CPUs never take a CPU a lease has pinned, nor change under a lease whose emulator threads share them.
/// Each refusal names the leases. While the holds are unknown, every such change is refused with the reason, and the
/// error says so (<see cref="ProfileValidationError.HoldsUnknown"/>).
/// </summary>
public static partial class ProfilePlanner
{
    /// <summary>Why leases block a change: the reason, and whether it is that the holds are unknown rather than a lease named.</summary>
    private readonly record struct LeaseRefusal(string Reason, bool HoldsUnknown);

    private sealed partial class Context
    {
        /// <summary>Refuses <paramref name="field"/> for what leases hold (or for not knowing it).</summary>
        private void Error(string field, LeaseRefusal refusal) => Error(field, refusal.Reason, refusal.HoldsUnknown);

        /// <summary>Why <paramref name="address"/> may not be bound again (a lease holds it, or the holds are unknown), or null.</summary>
        private LeaseRefusal? LeaseBlocksBinding(PciAddress address)
        {
            if (current.Leases.Devices.TryGetValue(address, out string? lease))
            {
                return new($"{address} is held by lease {lease}: binding it again would pull it from under the lease; release the lease first", false);
            }

            return current.Leases.Unavailable is { } why ? new($"{address} would be bound again, but what leases hold is unknown ({why})", true) : null;
        }

        /// <summary>Why the VF count of <paramref name="pf"/> (with <paramref name="vfs"/> now) may not change, or null.</summary>
        private LeaseRefusal? LeaseBlocksVfCount(PciAddress pf, IReadOnlyList<PciAddress> vfs, int numVfs)
        {
            List<string> held = [.. vfs.Where(current.Leases.Devices.ContainsKey).Select(vf => $"{vf} (lease {current.Leases.Devices[vf]})")];
            if (held.Count > 0)
            {
                return new($"changing the VF count of {pf} destroys its VFs, and leases hold {string.Join(", ", held)}: release them first", false);
            }

            return numVfs > 0 && current.Leases.Unavailable is { } why
                ? new($"changing the VF count of {pf} destroys its {numVfs} VFs, and what leases hold is unknown ({why})", true)
                : null;
        }

        /// <summary>Why the pool may not shrink to <paramref name="count"/> pages (leases hold more, or the holds are unknown), or null.</summary>
        private LeaseRefusal? LeaseBlocksShrink(int node, long pageSizeKiB, long count)
        {
            (long pages, string leases) = current.Leases.HugepagesHeld(node, pageSizeKiB);
            if (count < pages)
            {
                return new($"{count} pages is below the {pages} that leases hold in node {node}'s {pageSizeKiB}kB pool ({leases}): release them first", false);
            }

            return current.Leases.Unavailable is { } why
                ? new($"node {node}'s {pageSizeKiB}kB pool would shrink to {count} pages, but what leases hold is unknown ({why})", true)
                : null;
        }

        /// <summary>
        /// Why the host-reserved CPUs may not become <paramref name="reserved"/> (empty: none, every unit unconfined):
        /// leases pin some of them; or, when the plan <paramref name="changes"/> them, a lease shares the reserved CPUs
        /// it was granted with (its emulator threads would stay on CPUs a later lease may get as its own) and the new
        /// set is not those, or the holds are unknown. Null when nothing blocks.
        /// </summary>
        private LeaseRefusal? LeaseBlocksReserved(CpuSet reserved, bool changes)
        {
            List<int> held = [.. reserved.Where(current.Leases.Cpus.ContainsKey)];
            if (held.Count > 0)
            {
                string leases = string.Join(", ", held.Select(c => current.Leases.Cpus[c]).Distinct(StringComparer.Ordinal));
                return new($"{CpuSet.Of(held)} pinned by lease(s) {leases}: host services would run on a lease's dedicated CPUs; release the lease(s) first", false);
            }

            if (!changes)
            {
                return null;
            }

            string becomes = reserved.IsEmpty ? "the host would keep no reserved CPUs" : $"the host-reserved CPUs would become {reserved}";
            List<string> sharing = [.. current.Leases.SharingReserved.Where(s => !s.Value.Equals(reserved)).OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key} (on {s.Value})")];
            if (sharing.Count > 0)
            {
                return new($"{becomes}, but lease(s) {string.Join(", ", sharing)} pin their emulator threads to the host-reserved CPUs they were granted with (emulator threads share), " +
                    "which a later lease could then get as its own; release the lease(s) first", false);
            }

            return current.Leases.Unavailable is { } why ? new($"{becomes}, but what leases hold is unknown ({why})", true) : null;
        }
    }
}
