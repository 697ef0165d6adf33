using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Agent.Profile;

/// <summary>
/// The boot re-apply's tolerance: a device the profile names that is not on the host at start (a GPU fallen off the
/// bus, a card pulled for service) must not cost the node its whole profile (hugepages, host CPUs, the other
/// devices). Its entry is left out with a warning naming it, and its boot-time override is kept, so that it is
/// bound to vfio-pci again when it comes back. An apply through the API still refuses such a profile.
/// </summary>
internal static class ProfileAtStart
{
    /// <summary>The profile without the entries whose device is not on the host; <paramref name="warnings"/> says which.</summary>
    public static NodeProfile LeaveOutMissing(NodeProfile profile, HostTopology topology, List<string> warnings)
    {
        var present = new HashSet<PciAddress>(topology.PciDevices.Select(d => d.Address));
        bool Matches(DeviceSelector s) => topology.PciDevices.Any(s.Matches);

        if (profile.Vfio is { } vfio)
        {
            var devices = new List<DeviceSelector>();
            for (int i = 0; i < vfio.Devices.Count; i++)
            {
                if (Matches(vfio.Devices[i]))
                {
                    devices.Add(vfio.Devices[i]);
                }
                else
                {
                    warnings.Add($"vfio.devices[{i}]: \"{vfio.Devices[i]}\" matches no device on this host at start: left out of this apply, its boot-time override kept");
                }
            }

            var hostDevices = new List<DeviceSelector>();
            for (int i = 0; i < vfio.HostDevices.Count; i++)
            {
                if (Matches(vfio.HostDevices[i]))
                {
                    hostDevices.Add(vfio.HostDevices[i]);
                }
                else
                {
                    warnings.Add($"vfio.hostDevices[{i}]: \"{vfio.HostDevices[i]}\" matches no device on this host at start: left out");
                }
            }

            profile = profile with { Vfio = new VfioProfile(devices, hostDevices) };
        }

        var sriov = new List<SriovProfile>();
        for (int i = 0; i < profile.Sriov.Count; i++)
        {
            if (present.Contains(profile.Sriov[i].PhysicalFunction))
            {
                sriov.Add(profile.Sriov[i]);
            }
            else
            {
                warnings.Add($"sriov[{i}].pf: {profile.Sriov[i].PhysicalFunction} is not on this host at start: its VFs are left out of this apply");
            }
        }

        profile = profile with { Sriov = sriov };
        if (profile.Mig is { } mig)
        {
            var gpus = new List<MigGpuProfile>();
            for (int i = 0; i < mig.Gpus.Count; i++)
            {
                if (mig.Gpus[i].Gpu.Selector is { } s && !Matches(s))
                {
                    warnings.Add($"mig.gpus[{i}]: \"{s}\" matches no device on this host at start: its layout is left out of this apply");
                }
                else
                {
                    gpus.Add(mig.Gpus[i]);
                }
            }

            profile = profile with { Mig = mig with { Gpus = gpus } };
        }

        return profile;
    }

    /// <summary>
    /// The plan without the removal of boot-time overrides of devices that are not on the host (the vfio section
    /// owns the override files, and a device left out, or no longer matched by a selector such as nvidia-gpus, would
    /// otherwise lose its own); the warnings joined to the plan's.
    /// </summary>
    public static ProfilePlan KeepOverridesOfMissing(ProfilePlan plan, HostTopology topology, List<string> warnings)
    {
        var present = new HashSet<PciAddress>(topology.PciDevices.Select(d => d.Address));
        var steps = new List<ProfileStep>(plan.Steps.Count);
        foreach (ProfileStep step in plan.Steps)
        {
            if (step is PersistVfioOverrideStep { To: null } p && !present.Contains(p.Address))
            {
                warnings.Add($"{p.Address} is not on this host at start: its boot-time override ({p.From}) is kept");
                continue;
            }

            steps.Add(step);
        }

        return warnings.Count == 0 ? plan : plan with { Steps = plan.IsValid ? steps : [], Warnings = [.. plan.Warnings, .. warnings] };
    }
}
