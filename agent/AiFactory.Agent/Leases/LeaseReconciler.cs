using AiFactory.Agent.Gpu;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using LeaseMig = AiFactory.Host.Model.Leases.MigPlacement;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Compares the ledger with the machine at start: devices that are gone or bound to an unexpected driver, MIG
/// instances NVML does not report where the lease placed them, CPUs that are offline or now host-reserved, hugepage
/// pools smaller than what leases hold on them, leases that overlap, grants the agent stopped in the middle of. Pure: it reports and never "fixes" — an operator (or the lease's owner) decides, because the ledger
/// may be right and the machine wrong, or the other way round.
/// </summary>
internal static class LeaseReconciler
{
    /// <summary>One entry per disagreement (or resource that could not be checked), each naming the lease and the resource.</summary>
    /// <param name="holding">The leases holding resources.</param>
    /// <param name="topology">The machine now (sysfs).</param>
    /// <param name="hostReserved">CPUs the node profile reserves for the host.</param>
    /// <param name="devicesBound">
    /// True when the agent binds leased devices (the vfio binder is active): each leased PCI function must then be on
    /// vfio-pci, and each MIG lease's instance must exist. False when binding is deferred (read-only): vfio-pci or the
    /// original driver are both expected, and a missing MIG instance is reported as unchecked, not as drift.
    /// </param>
    /// <param name="mig">What NVML reports, or null when this agent has no NVML layer; read only for MIG leases.</param>
    public static IReadOnlyList<LeaseDiscrepancy> Compare(IReadOnlyList<Lease> holding, HostTopology topology, CpuSet hostReserved, bool devicesBound = false, MigObservation? mig = null)
    {
        var found = new List<LeaseDiscrepancy>();
        var seenDevices = new Dictionary<PciAddress, string>();
        var seenMig = new Dictionary<(PciAddress, uint, uint), string>();
        var seenCpus = new Dictionary<int, string>();
        foreach (Lease lease in holding)
        {
            // A grant the agent stopped in the middle of: its devices may be bound or not, each; said once, with
            // which are where, and nothing expected of either.
            bool granting = lease.State == LeaseState.Granting;
            if (granting)
            {
                found.Add(new(lease.Id, InterruptedGrant(lease, topology)));
            }

            foreach (LeasedDevice d in lease.Plan.Devices)
            {
                if (seenDevices.TryGetValue(d.Address, out string? other))
                {
                    found.Add(new(lease.Id, $"device {d.Address} is also held by lease {other}"));
                }

                seenDevices[d.Address] = lease.Id;
                CompareDevice(lease, d, topology.FindDevice(d.Address), devicesBound && !granting, found);
            }

            if (lease.Plan.Mig is { } placement)
            {
                var key = (placement.Gpu, (uint)placement.PlacementStart, (uint)placement.PlacementSize);
                if (seenMig.TryGetValue(key, out string? other))
                {
                    found.Add(new(lease.Id, $"MIG instance {Describe(placement)} is also held by lease {other}"));
                }

                seenMig[key] = lease.Id;
                if (topology.FindDevice(placement.Gpu) is null)
                {
                    found.Add(new(lease.Id, $"MIG parent GPU {placement.Gpu} is not on the host any more"));
                }
                else if (!granting)
                {
                    CompareMig(lease, placement, mig, devicesBound, found);
                }
            }

            foreach (int cpu in lease.Plan.ClaimedCpus)
            {
                if (seenCpus.TryGetValue(cpu, out string? other))
                {
                    found.Add(new(lease.Id, $"CPU {cpu} is also held by lease {other}"));
                }

                seenCpus[cpu] = lease.Id;
            }

            CpuSet offline = lease.Plan.ClaimedCpus.Except(topology.Cpus.Online);
            if (!offline.IsEmpty)
            {
                found.Add(new(lease.Id, $"CPUs {offline} are not online"));
            }

            CpuSet nowReserved = lease.Plan.ClaimedCpus.Intersect(hostReserved);
            if (!nowReserved.IsEmpty)
            {
                found.Add(new(lease.Id, $"CPUs {nowReserved} are now reserved for the host by the node profile"));
            }
        }

        CompareHugepages(holding, topology, found);
        return found;
    }

    /// <summary>The PCI functions on vfio-pci that no holding lease names, in address order.</summary>
    public static IReadOnlyList<PciAddress> Unleased(IReadOnlyList<Lease> holding, HostTopology topology)
    {
        var leased = holding.SelectMany(l => l.Plan.Devices).Select(d => d.Address).ToHashSet();
        return [.. topology.PciDevices.Where(d => d.Driver == "vfio-pci" && !leased.Contains(d.Address)).Select(d => d.Address).Order()];
    }

    /// <summary>
    /// The hugepages leases hold on each node against that node's pool (<c>nr_hugepages</c>, which the node profile
    /// sets): a pool made smaller than what leases hold cannot back their guests. Reported for each lease holding
    /// pages of that size on that node.
    /// </summary>
    private static void CompareHugepages(IReadOnlyList<Lease> holding, HostTopology topology, List<LeaseDiscrepancy> found)
    {
        var held = new Dictionary<(int Node, PageSize Size), List<(string Lease, long Pages)>>();
        foreach (Lease lease in holding)
        {
            if (lease.Plan.PageSize == PageSize.Small4K)
            {
                continue;
            }

            foreach (NodeAllocation n in lease.Plan.Nodes.Where(n => n.MemoryBytes > 0))
            {
                var key = (n.Node, lease.Plan.PageSize);
                if (!held.TryGetValue(key, out List<(string, long)>? leases))
                {
                    held[key] = leases = [];
                }

                leases.Add((lease.Id, n.MemoryBytes / lease.Plan.PageSize.Bytes()));
            }
        }

        foreach (((int node, PageSize size), List<(string Lease, long Pages)> leases) in held)
        {
            long pool = topology.NumaNodes.FirstOrDefault(n => n.Id == node)?.Hugepages.FirstOrDefault(p => p.PageSizeKiB == size.KiB())?.Total ?? 0;
            long total = leases.Sum(l => l.Pages);
            if (total <= pool)
            {
                continue;
            }

            foreach ((string lease, long pages) in leases)
            {
                found.Add(new(lease, $"node {node} has {pool} {size.Name()} hugepage(s) in its pool, but leases hold {total} there ({pages} by this lease)"));
            }
        }
    }

    private static string InterruptedGrant(Lease lease, HostTopology topology)
    {
        var bound = new List<string>();
        var notBound = new List<string>();
        foreach (LeasedDevice d in lease.Plan.Devices)
        {
            (topology.FindDevice(d.Address)?.Driver == "vfio-pci" ? bound : notBound).Add(d.Address.ToString());
        }

        string devices = lease.Plan.Devices.Count == 0 ? "no devices" :
            $"on vfio-pci: {(bound.Count == 0 ? "none" : string.Join(", ", bound))}; not: {(notBound.Count == 0 ? "none" : string.Join(", ", notBound))}";
        string mig = lease.Plan.Mig is { } placement ? $"; its MIG instance {Describe(placement)} may or may not have been created" : string.Empty;
        return $"the agent stopped while granting this lease, so it was never answered ({devices}{mig}); it keeps holding its resources until released, and releasing it gives back what was bound";
    }

    private static void CompareDevice(Lease lease, LeasedDevice d, PciDevice? device, bool devicesBound, List<LeaseDiscrepancy> found)
    {
        if (device is null)
        {
            found.Add(new(lease.Id, $"device {d.Address} ({d.Role}) is not on the host any more"));
            return;
        }

        if (devicesBound)
        {
            // The binder put every function of the plan (GPUs, their IOMMU-group companions, VFs) on vfio-pci when
            // the lease was granted; a function found elsewhere (its original driver after a reboot, say) cannot be
            // passed through although the ledger says it is held for that.
            if (device.Driver != "vfio-pci")
            {
                found.Add(new(lease.Id, $"device {d.Address} ({d.Role}) is bound to {device.Driver ?? "no driver"}; the lease expects vfio-pci (devices are bound to vfio-pci while leased)"));
            }
        }
        else if (device.Driver is { } driver && driver != "vfio-pci" && driver != d.OriginalDriver)
        {
            found.Add(new(lease.Id, $"device {d.Address} is bound to {driver}; the lease expects vfio-pci or its original driver {d.OriginalDriver ?? "(none)"}"));
        }
    }

    private static void CompareMig(Lease lease, LeaseMig placement, MigObservation? mig, bool devicesBound, List<LeaseDiscrepancy> found)
    {
        string instance = Describe(placement);
        if (mig is null || mig.Unavailable is not null)
        {
            found.Add(new(lease.Id, $"MIG instance {instance} could not be checked: {mig?.Unavailable ?? "this agent has no NVML layer"}", Unchecked: true));
            return;
        }

        if (!mig.Gpus.TryGetValue(placement.Gpu, out MigGpuReading? gpu) && mig.Unaddressed.Count > 0)
        {
            found.Add(new(lease.Id, $"MIG instance {instance} could not be checked: NVML does not report {placement.Gpu}, and gives no handle for {string.Join("; ", mig.Unaddressed)}", Unchecked: true));
            return;
        }

        if (gpu is null)
        {
            found.Add(new(lease.Id, $"NVML does not report GPU {placement.Gpu}, which holds MIG instance {instance}"));
            return;
        }

        if (gpu.Error is { } error)
        {
            found.Add(new(lease.Id, $"MIG instance {instance} could not be checked: NVML fails on {placement.Gpu} ({error})", Unchecked: true));
            return;
        }

        if (!gpu.MigEnabled)
        {
            found.Add(new(lease.Id, $"GPU {placement.Gpu} is not in MIG mode; the lease holds MIG instance {instance} on it"));
            return;
        }

        var at = new Host.Model.Gpu.MigPlacement((uint)placement.PlacementStart, (uint)placement.PlacementSize);
        MigInstance? exact = gpu.Instances.FirstOrDefault(i => i.Placement == at && string.Equals(i.Profile, placement.Profile, StringComparison.OrdinalIgnoreCase));
        if (exact is not null)
        {
            if (exact.IsOrphaned)
            {
                found.Add(new(lease.Id, $"MIG instance {instance} (GPU instance {exact.GpuInstanceId}) has no compute instance"));
            }

            return;
        }

        List<MigInstance> overlapping = [.. gpu.Instances.Where(i => i.Placement.Overlaps(at))];
        string reported = gpu.Instances.Count == 0 ? "none" : string.Join(", ", gpu.Instances.Select(i => $"{i.Profile}@{i.Placement}"));
        if (overlapping.Count > 0)
        {
            found.Add(new(lease.Id, $"NVML reports {string.Join(" and ", overlapping.Select(i => $"{i.Profile}@{i.Placement} (GPU instance {i.GpuInstanceId})"))} where the lease's MIG instance {instance} should be"));
        }
        else if (devicesBound)
        {
            found.Add(new(lease.Id, $"NVML reports no MIG instance {instance} (GPU instances on {placement.Gpu}: {reported})"));
        }
        else
        {
            // Binding deferred (read-only): the agent never created the instance, so its absence is no disagreement;
            // still said, since the lease exists only on paper.
            found.Add(new(lease.Id, $"NVML reports no MIG instance {instance}: binding is deferred, so the agent never created it (the lease is recorded only)", Unchecked: true));
        }
    }

    private static string Describe(LeaseMig placement) => $"{placement.Profile}@{placement.PlacementStart}:{placement.PlacementSize} on {placement.Gpu}";
}
