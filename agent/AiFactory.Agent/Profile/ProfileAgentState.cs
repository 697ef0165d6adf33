using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Profile;

/// <summary>
/// What only the agent knows, added to the hardware layer's <see cref="ProfileCurrentState"/> before a plan: the PCI
/// functions and hugepages leases hold (from the ledger), and, for a <c>vfio</c> section, the compute processes NVML
/// reports on each GPU.
/// </summary>
internal static class ProfileAgentState
{
    public static ProfileCurrentState Add(ProfileEnvironment env, NodeProfile profile, ProfileCurrentState state)
    {
        state = state with { Leases = env.Leases?.HeldResources() ?? LeaseHolds.None };
        if (profile.Vfio is null)
        {
            return state;
        }

        (IReadOnlyDictionary<Host.Model.Pci.PciAddress, IReadOnlyList<string>> processes, string? unavailable) = env.Mig is { } mig
            ? mig.ReadProcesses()
            : (new Dictionary<Host.Model.Pci.PciAddress, IReadOnlyList<string>>(), "this agent has no NVML layer");
        return state with { GpuProcesses = processes, GpuProcessesUnavailable = unavailable };
    }
}
