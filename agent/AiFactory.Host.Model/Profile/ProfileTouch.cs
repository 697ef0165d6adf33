using System.Globalization;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Model.Profile;

/// <summary>
/// What a profile plan changes that a lease could hold: the PCI functions it binds or whose VFs it makes or
/// destroys, the GPUs whose MIG layout it changes, the hugepage pools it resizes, the CPUs it reserves for the
/// host, and whether it changes the host-reserved CPUs at all (a lease whose emulator threads share them). While the plan is applied, no lease that holds any of them may be granted (<see cref="Conflict"/>).
/// </summary>
public sealed record ProfileTouch
{
    /// <summary>Nothing touched (a plan with no steps, or only steps no lease can hold: services, module loads, overrides).</summary>
    public static readonly ProfileTouch None = new();

    /// <summary>Functions the plan binds to vfio-pci (companions included), and the PFs whose VFs it changes.</summary>
    public IReadOnlySet<PciAddress> Devices { get; init; } = new HashSet<PciAddress>();

    /// <summary>PFs whose VFs the plan destroys, makes or binds: every VF of theirs is touched, those not made yet too.</summary>
    public IReadOnlySet<PciAddress> PhysicalFunctions { get; init; } = new HashSet<PciAddress>();

    /// <summary>GPUs whose MIG mode or instances the plan changes.</summary>
    public IReadOnlySet<PciAddress> MigGpus { get; init; } = new HashSet<PciAddress>();

    /// <summary>The hugepage pools (node, page size in KiB) the plan resizes.</summary>
    public IReadOnlySet<(int Node, long PageSizeKiB)> HugepagePools { get; init; } = new HashSet<(int, long)>();

    /// <summary>The CPUs the plan reserves for the host (systemd <c>AllowedCPUs=</c>); empty when it does not change them.</summary>
    public CpuSet ReservedCpus { get; init; } = CpuSet.Empty;

    /// <summary>
    /// True when the plan changes any unit's <c>AllowedCPUs=</c> (the reserved set moves, grows, shrinks or is reset):
    /// a lease whose emulator threads would share the reserved CPUs is pinned to the set as it is before the apply.
    /// </summary>
    public bool ChangesReservedCpus { get; init; }

    /// <summary>True when the plan touches nothing a lease can hold.</summary>
    public bool IsEmpty => Devices.Count == 0 && PhysicalFunctions.Count == 0 && MigGpus.Count == 0 && HugepagePools.Count == 0 && ReservedCpus.IsEmpty && !ChangesReservedCpus;

    /// <summary>What <paramref name="steps"/> touch; the VFs of a touched PF are taken from <paramref name="topology"/> as well.</summary>
    public static ProfileTouch Of(IReadOnlyList<ProfileStep> steps, HostTopology? topology)
    {
        var devices = new HashSet<PciAddress>();
        var pfs = new HashSet<PciAddress>();
        var gpus = new HashSet<PciAddress>();
        var pools = new HashSet<(int, long)>();
        CpuSet cpus = CpuSet.Empty;
        bool changesReserved = false;
        foreach (ProfileStep step in steps)
        {
            switch (step)
            {
                case BindVfioStep bind:
                    devices.Add(bind.Address);
                    break;
                case SetNumVfsStep vfs:
                    pfs.Add(vfs.PhysicalFunction);
                    break;
                case SetSriovAutoprobeStep autoprobe:
                    pfs.Add(autoprobe.PhysicalFunction);
                    break;
                case BindVfsVfioStep bindVfs:
                    pfs.Add(bindVfs.PhysicalFunction);
                    break;
                case SetMigModeStep mode:
                    gpus.Add(mode.Gpu);
                    break;
                case CreateMigInstanceStep create:
                    gpus.Add(create.Gpu);
                    break;
                case DestroyMigInstanceStep destroy:
                    gpus.Add(destroy.Gpu);
                    break;
                case SetHugepagesStep pages:
                    pools.Add((pages.Node, pages.PageSizeKiB));
                    break;
                case SetAllowedCpusStep allowed:
                    changesReserved = true;
                    if (CpuSet.TryParse(allowed.To, out CpuSet? reserved, out _))
                    {
                        cpus = cpus.Union(reserved);
                    }

                    break;
            }
        }

        foreach (PciAddress pf in pfs)
        {
            devices.Add(pf);
            if (topology?.FindDevice(pf)?.Sriov is { } sriov)
            {
                devices.UnionWith(sriov.VirtualFunctions);
            }
        }

        return new ProfileTouch { Devices = devices, PhysicalFunctions = pfs, MigGpus = gpus, HugepagePools = pools, ReservedCpus = cpus, ChangesReservedCpus = changesReserved };
    }

    /// <summary>
    /// What of <paramref name="plan"/> the profile changes ("0000:03:00.0", "node 1's 2048kB hugepages"), or null when
    /// nothing: the lease may be granted beside the apply. <paramref name="physicalFunctionOf"/> finds a VF's PF
    /// (a VF the apply has just made is known only to the caller's topology).
    /// </summary>
    public string? Conflict(LeasePlan plan, Func<PciAddress, PciAddress?>? physicalFunctionOf = null)
    {
        foreach (LeasedDevice d in plan.Devices)
        {
            if (Devices.Contains(d.Address) || MigGpus.Contains(d.Address))
            {
                return d.Address.ToString();
            }

            if (PhysicalFunctions.Count > 0 && physicalFunctionOf?.Invoke(d.Address) is { } pf && PhysicalFunctions.Contains(pf))
            {
                return $"{d.Address} (a VF of {pf})";
            }
        }

        if (plan.Mig is { } mig && (MigGpus.Contains(mig.Gpu) || Devices.Contains(mig.Gpu)))
        {
            return $"the MIG layout of {mig.Gpu}";
        }

        if (plan.PageSize != PageSize.Small4K && HugepagePools.Count > 0)
        {
            long kib = plan.PageSize.KiB();
            foreach (NodeAllocation n in plan.Nodes)
            {
                if (n.MemoryBytes > 0 && HugepagePools.Contains((n.Node, kib)))
                {
                    return string.Create(CultureInfo.InvariantCulture, $"node {n.Node}'s {kib}kB hugepages");
                }
            }
        }

        if (!ReservedCpus.IsEmpty && plan.ClaimedCpus.Overlaps(ReservedCpus))
        {
            return $"CPUs {plan.ClaimedCpus.Intersect(ReservedCpus)} (reserved for the host by it)";
        }

        if (ChangesReservedCpus && !plan.EmulatorIsolated && !plan.EmulatorCpus.IsEmpty)
        {
            return $"the host-reserved CPUs the lease's emulator threads would share ({plan.EmulatorCpus})";
        }

        return null;
    }

    /// <summary>One line for logs and refusals: what is touched.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (Devices.Count > 0)
        {
            parts.Add("devices " + string.Join(", ", Devices.Order()));
        }

        if (MigGpus.Count > 0)
        {
            parts.Add("the MIG layout of " + string.Join(", ", MigGpus.Order()));
        }

        if (HugepagePools.Count > 0)
        {
            parts.Add("hugepages " + string.Join(", ", HugepagePools.Order().Select(p => string.Create(CultureInfo.InvariantCulture, $"node{p.Node}/{p.PageSizeKiB}kB"))));
        }

        if (!ReservedCpus.IsEmpty)
        {
            parts.Add($"host CPUs {ReservedCpus}");
        }
        else if (ChangesReservedCpus)
        {
            parts.Add("the host-reserved CPUs");
        }

        return parts.Count == 0 ? "nothing a lease can hold" : string.Join("; ", parts);
    }
}
