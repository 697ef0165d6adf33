using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Host.Planning.Profile;

/// <summary>
/// The host-reserved CPUs (<c>cpus</c>): systemd <c>AllowedCPUs=</c> on the units the profile names, and the reset to
/// all CPUs of the units the profile applied last confined and this one no longer names (the whole section removed,
/// or a unit left out of <c>cpus.units</c>). Units the agent never set are left alone. Every change is refused while a
/// lease pins a CPU the new set takes, while a lease's emulator threads share the reserved CPUs it was granted with
/// and the new set is not those, and while what leases hold is unknown (ProfilePlanner.Leases.cs).
/// </summary>
public static partial class ProfilePlanner
{
    private sealed partial class Context
    {
        public void PlanCpus()
        {
            if (profile.Cpus is not { } cpus)
            {
                PlanCpusRemoved();
                return;
            }

            CpuSet online = topology.Cpus.Online;
            if (cpus.Reserved.IsEmpty)
            {
                Error("cpus.reserved", "is empty: the host needs at least one CPU");
                return;
            }

            if (!cpus.Reserved.IsSubsetOf(online))
            {
                Error("cpus.reserved", $"{cpus.Reserved.Except(online)} not online (online: {online})");
                return;
            }

            if (online.IsSubsetOf(cpus.Reserved))
            {
                Error("cpus.reserved", $"reserves every online CPU ({online}): none would be left for leases");
                return;
            }

            if (cpus.Reserved.Overlaps(topology.Cpus.Isolated))
            {
                _warnings.Add($"cpus.reserved: {cpus.Reserved.Intersect(topology.Cpus.Isolated)} also in isolcpus ({topology.Cpus.Isolated}): host services would run on isolated CPUs");
            }

            if (cpus.Reserved.Overlaps(topology.Cpus.NohzFull))
            {
                _warnings.Add($"cpus.reserved: {cpus.Reserved.Intersect(topology.Cpus.NohzFull)} also in nohz_full ({topology.Cpus.NohzFull})");
            }

            List<SetAllowedCpusStep> released = Released("cpus.units");
            bool changes = released.Count > 0 || cpus.Units.Any(unit => !(current.AllowedCpus.GetValueOrDefault(unit) ?? CpuSet.Empty).Equals(cpus.Reserved));
            if (LeaseBlocksReserved(cpus.Reserved, changes) is { } blocked)
            {
                Error("cpus.reserved", blocked);
                return;
            }

            CpuSet leases = online.Except(cpus.Reserved);
            if (!topology.Cpus.Isolated.IsEmpty && !leases.IsSubsetOf(topology.Cpus.Isolated))
            {
                _warnings.Add($"cpus: lease CPUs {leases.Except(topology.Cpus.Isolated)} are not in isolcpus ({topology.Cpus.Isolated})");
            }

            foreach (string unit in cpus.Units)
            {
                if (UnreadableUnit(unit) is { } unreadable)
                {
                    Error("cpus.reserved", $"{unit}: {unreadable}, so its AllowedCPUs= cannot be planned");
                    continue;
                }

                CpuSet now = current.AllowedCpus.GetValueOrDefault(unit) ?? CpuSet.Empty;
                if (!now.Equals(cpus.Reserved))
                {
                    _cpus.Add(new SetAllowedCpusStep(unit, now.ToString(), cpus.Reserved.ToString()) { Field = "cpus.reserved" });
                }
            }

            _cpus.AddRange(released);
        }

        /// <summary>
        /// No <c>cpus</c> section: the units the profile applied last confined go back to all CPUs, as the lease side,
        /// which now sees no reserved CPUs, assumes. Refused while which units those are is unknown.
        /// </summary>
        private void PlanCpusRemoved()
        {
            if (current.AppliedCpusUnknown is { } why)
            {
                Error("cpus", $"the profile applied last cannot be read ({why}), so which units' AllowedCPUs= this agent set is unknown and none can be reset: " +
                    "keep the cpus section, or reset the units by hand (systemctl set-property --runtime UNIT AllowedCPUs=) and remove that file");
                return;
            }

            List<SetAllowedCpusStep> released = Released("cpus");
            if (released.Count > 0 && LeaseBlocksReserved(CpuSet.Empty, changes: true) is { } blocked)
            {
                Error("cpus", blocked);
                return;
            }

            _cpus.AddRange(released);
        }

        /// <summary>
        /// The steps that reset to all CPUs (an empty <c>AllowedCPUs=</c>) each unit the profile applied last confined
        /// that this profile does not name, while it still has the set that profile gave it; a unit changed since
        /// (by hand) is left as it is, with a warning. <paramref name="field"/> names the steps.
        /// </summary>
        private List<SetAllowedCpusStep> Released(string field)
        {
            var steps = new List<SetAllowedCpusStep>();
            if (current.AppliedCpus is not { } applied)
            {
                return steps;
            }

            IReadOnlyList<string> named = profile.Cpus?.Units ?? [];
            foreach (string unit in applied.Units.Distinct(StringComparer.Ordinal))
            {
                if (named.Contains(unit, StringComparer.Ordinal))
                {
                    continue;
                }

                if (UnreadableUnit(unit) is { } unreadable)
                {
                    Error(field, $"{unit}: {unreadable}, so whether to reset its AllowedCPUs= cannot be planned");
                    continue;
                }

                CpuSet now = current.AllowedCpus.GetValueOrDefault(unit) ?? CpuSet.Empty;
                if (now.IsEmpty)
                {
                    continue;
                }

                if (!now.Equals(applied.Reserved))
                {
                    _warnings.Add($"{field}: {unit} has AllowedCPUs={now}, not the {applied.Reserved} the profile applied last gave it: left as it is");
                    continue;
                }

                steps.Add(new SetAllowedCpusStep(unit, now.ToString(), string.Empty) { Field = field });
            }

            return steps;
        }
    }
}
