using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Profile;

/// <summary>
/// What only the agent knows, added to the hardware layer's <see cref="ProfileCurrentState"/> before a plan: the PCI
/// functions and hugepages leases hold (from the ledger), and, when the plan takes a GPU from its driver, the compute
/// processes NVML reports on each GPU.
/// </summary>
internal static class ProfileAgentState
{
    /// <summary>Adds what leases hold: <paramref name="holds"/> when the caller read them, else from the ledger now.</summary>
    public static ProfileCurrentState AddLeases(ProfileEnvironment env, ProfileCurrentState state, LeaseHolds? holds) =>
        state with { Leases = holds ?? env.Leases?.HeldResources() ?? LeaseHolds.None };

    /// <summary>Adds the compute processes on each GPU (one NVML query per GPU), or why NVML cannot be asked.</summary>
    public static ProfileCurrentState AddGpuProcesses(ProfileEnvironment env, ProfileCurrentState state)
    {
        (IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> processes, string? unavailable) = env.Mig is { } mig
            ? mig.ReadProcesses()
            : (new Dictionary<PciAddress, IReadOnlyList<string>>(), "this agent has no NVML layer");
        return state with { GpuProcesses = processes, GpuProcessesUnavailable = unavailable };
    }

    /// <summary>
    /// A lease in <paramref name="now"/> but not in <paramref name="planned"/> (granted after the plan read the holds)
    /// that holds something <paramref name="touch"/> changes, named; null when there is none.
    /// </summary>
    public static string? NewHoldIn(ProfileTouch touch, LeaseHolds planned, LeaseHolds now)
    {
        var known = new HashSet<string>(planned.Devices.Values, StringComparer.Ordinal);
        known.UnionWith(planned.Hugepages.Select(h => h.LeaseId));
        known.UnionWith(planned.SharingReserved.Keys);
        foreach ((PciAddress address, string lease) in now.Devices)
        {
            if (!known.Contains(lease) && (touch.Devices.Contains(address) || touch.MigGpus.Contains(address)))
            {
                return $"lease {lease} was granted {address} after this apply was planned: nothing written; apply again";
            }
        }

        foreach (HugepageHold h in now.Hugepages)
        {
            if (!known.Contains(h.LeaseId) && touch.HugepagePools.Contains((h.Node, h.PageSizeKiB)))
            {
                return $"lease {h.LeaseId} was granted hugepages in node {h.Node}'s {h.PageSizeKiB}kB pool after this apply was planned: nothing written; apply again";
            }
        }

        if (touch.ChangesReservedCpus && now.SharingReserved.Keys.FirstOrDefault(id => !known.Contains(id)) is { } sharing)
        {
            return $"lease {sharing} was granted emulator threads on the host-reserved CPUs ({now.SharingReserved[sharing]}) after this apply was planned: nothing written; apply again";
        }

        return null;
    }
}
