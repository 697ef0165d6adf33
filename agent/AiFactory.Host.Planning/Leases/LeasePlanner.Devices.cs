using System.Globalization;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Planning.Leases;

public static partial class LeasePlanner
{
    private static PlanResult? PickGpus(HostUsage usage, GpuRequest request, LeaseRequest lease, List<LeasedDevice> devices)
    {
        HostTopology topology = usage.Context.Topology;
        List<PciDevice> all = [.. topology.PciDevices.Where(d => d.Kind == DeviceKind.Gpu && !d.IsVirtualFunction)];
        if (all.Count == 0)
        {
            return PlanResult.Invalid("gpus.count", "this host has no GPU");
        }

        List<PciDevice> matching = request.Model is null ? all : [.. all.Where(d => MatchesModel(d, request.Model))];
        if (matching.Count == 0)
        {
            string have = string.Join(", ", all.Select(d => d.ModelName ?? Hex(d.DeviceId)).Distinct());
            return PlanResult.Invalid("gpus.model", $"no GPU matches \"{request.Model}\"; this host has: {have}");
        }

        if (request.Count > matching.Count)
        {
            return PlanResult.Invalid("gpus.count", string.Create(CultureInfo.InvariantCulture, $"{request.Count} asked, this host has {matching.Count} {request.Model ?? "GPU"}(s)"));
        }

        if (request.NvlinkConnected && request.Count > 1 && !topology.PciDevices.Any(d => d.Kind == DeviceKind.NvSwitch))
        {
            return PlanResult.Invalid("gpus.nvlink", "an NVLink-connected set was asked, but this host has no NVSwitch fabric");
        }

        HashSet<PciAddress> migMode = [.. (usage.Context.MigCapacity ?? []).Select(c => c.Gpu)];
        List<PciDevice> free = [.. matching.Where(d => !usage.UsedDevices.Contains(d.Address) && !usage.MigGpus.Contains(d.Address) &&
                                                        !migMode.Contains(d.Address) && usage.Index.Companions(d.Address).All(c => !usage.UsedDevices.Contains(c.Address)))];
        var byNode = free.GroupBy(d => usage.CpuNodeOf(d.NumaNode) ?? -1).ToList();
        if (free.Count < request.Count)
        {
            string perNode = string.Join(", ", matching.GroupBy(d => usage.CpuNodeOf(d.NumaNode) ?? -1).OrderBy(g => g.Key)
                .Select(g => string.Create(CultureInfo.InvariantCulture, $"node {g.Key}: {g.Count(d => free.Contains(d))} of {g.Count()}")));
            return PlanResult.Short("gpus.count", null, string.Create(CultureInfo.InvariantCulture, $"{request.Count} asked, {free.Count} free ({perNode})"));
        }

        bool pairing = lease.Vfs is { PairWithGpus: true };
        var taken = new HashSet<PciAddress>();
        IOrderedEnumerable<PciDevice> Order(IEnumerable<PciDevice> group) =>
            group.OrderBy(g => pairing && FindSwitchPeerVf(usage, g, taken) is null ? 1 : 0).ThenBy(g => g.Address);

        // Best fit: the node whose free GPUs just cover the request, keeping fuller nodes whole.
        var fit = byNode.Where(g => g.Count() >= request.Count).OrderBy(g => g.Count()).ThenBy(g => g.Key).FirstOrDefault();
        List<PciDevice> chosen = fit is not null
            ? [.. Order(fit).Take(request.Count)]
            : [.. byNode.OrderByDescending(g => g.Count()).ThenBy(g => g.Key).SelectMany(Order).Take(request.Count)];
        foreach (PciDevice gpu in chosen)
        {
            devices.Add(new LeasedDevice(gpu.Address, DeviceRole.Gpu, gpu.NumaNode, gpu.Driver, gpu.ModelName));
        }

        foreach (PciDevice gpu in chosen)
        {
            foreach (PciDevice c in usage.Index.Companions(gpu.Address))
            {
                if (devices.All(d => d.Address != c.Address))
                {
                    devices.Add(new LeasedDevice(c.Address, DeviceRole.IommuCompanion, c.NumaNode, c.Driver, c.ModelName));
                }
            }
        }

        return null;
    }

    private static PlanResult? PickMig(HostUsage usage, MigRequest request, out MigPlacement? placement)
    {
        placement = null;
        List<MigCapacity> offered = [.. (usage.Context.MigCapacity ?? [])
            .Where(c => string.Equals(c.Profile, request.Profile, StringComparison.OrdinalIgnoreCase))
            .Where(c => request.Model is null || (usage.Index.Device(c.Gpu) is { } d && MatchesModel(d, request.Model)))];
        if (offered.Count == 0)
        {
            return PlanResult.Invalid("mig.profile", $"NVML reports no GPU in MIG mode offering profile \"{request.Profile}\"" + (request.Model is null ? string.Empty : $" on a {request.Model}"));
        }

        var candidates = new List<(MigCapacity Cap, (int Start, int Size) Slot, int FreeCount)>();
        foreach (MigCapacity cap in offered.Where(c => !usage.UsedDevices.Contains(c.Gpu)))
        {
            var freeSlots = cap.FreePlacements.Where(p => !usage.UsedMig.Any(m => m.Gpu == cap.Gpu && m.PlacementStart < p.Start + p.Size && p.Start < m.PlacementStart + m.PlacementSize)).ToList();
            if (freeSlots.Count > 0)
            {
                candidates.Add((cap, freeSlots.OrderBy(s => s.Start).First(), freeSlots.Count));
            }
        }

        if (candidates.Count == 0)
        {
            return PlanResult.Short("mig.profile", null, $"no free placement for \"{request.Profile}\" on any of {offered.Count} GPU(s) offering it");
        }

        // Pack: the GPU with the fewest free placements left, so other GPUs keep room for big profiles.
        var best = candidates.OrderBy(c => c.FreeCount).ThenBy(c => c.Cap.Gpu).First();
        placement = new MigPlacement(best.Cap.Gpu, best.Cap.Profile, best.Slot.Start, best.Slot.Size);
        return null;
    }

    private static PlanResult? PickVfs(HostUsage usage, VfRequest request, NumaPolicy policy, List<LeasedDevice> devices)
    {
        HostTopology topology = usage.Context.Topology;
        List<PciDevice> all = [.. topology.PciDevices.Where(d => d.IsVirtualFunction && usage.Index.Device(d.PhysicalFunction!.Value) is { Kind: DeviceKind.Nic })];
        if (all.Count == 0)
        {
            return PlanResult.Invalid("vfs.count", "this host has no SR-IOV VF on a NIC (sriov_numvfs is 0 on every PF)");
        }

        if (request.Count > all.Count)
        {
            return PlanResult.Invalid("vfs.count", string.Create(CultureInfo.InvariantCulture, $"{request.Count} asked, this host has {all.Count} VFs"));
        }

        var taken = new HashSet<PciAddress>(devices.Select(d => d.Address));
        int need = request.Count;
        List<LeasedDevice> gpus = [.. devices.Where(d => d.Role == DeviceRole.Gpu)];
        if (request.PairWithGpus)
        {
            foreach (LeasedDevice gpu in gpus.Take(need))
            {
                PciDevice? vf = FindSwitchPeerVf(usage, usage.Index.Device(gpu.Address)!, taken);
                if (vf is null)
                {
                    return PlanResult.Short("vfs.count", usage.CpuNodeOf(gpu.NumaNode), $"no free VF of a NIC under the PCIe switch of GPU {gpu.Address}");
                }

                taken.Add(vf.Address);
                devices.Add(new LeasedDevice(vf.Address, DeviceRole.VirtualFunction, vf.NumaNode, vf.Driver, vf.ModelName, gpu.Address));
                need--;
            }
        }

        if (need == 0)
        {
            return null;
        }

        List<PciDevice> free = [.. all.Where(d => !usage.UsedDevices.Contains(d.Address) && !taken.Contains(d.Address))];
        HashSet<int> gpuNodes = [.. gpus.Select(g => usage.CpuNodeOf(g.NumaNode) ?? -1)];
        List<PciDevice> chosen;
        if (gpuNodes.Count > 0)
        {
            chosen = [.. free.Where(v => gpuNodes.Contains(usage.CpuNodeOf(v.NumaNode) ?? -1)).Take(need)];
            if (chosen.Count < need && policy == NumaPolicy.Preferred)
            {
                chosen.AddRange(free.Where(v => !chosen.Contains(v)).Take(need - chosen.Count));
            }
        }
        else
        {
            var byNode = free.GroupBy(v => usage.CpuNodeOf(v.NumaNode) ?? -1).ToList();
            var fit = byNode.Where(g => g.Count() >= need).OrderBy(g => g.Count()).ThenBy(g => g.Key).FirstOrDefault();
            chosen = fit is not null ? [.. fit.Take(need)]
                : policy == NumaPolicy.Preferred ? [.. byNode.OrderByDescending(g => g.Count()).SelectMany(g => g).Take(need)] : [];
        }

        if (chosen.Count < need)
        {
            return PlanResult.Short("vfs.count", gpuNodes.Count == 1 ? gpuNodes.First() : null,
                string.Create(CultureInfo.InvariantCulture, $"{request.Count} asked, {chosen.Count + (request.Count - need)} free on the allowed NUMA node(s) ({free.Count} free on the host)"));
        }

        foreach (PciDevice vf in chosen)
        {
            devices.Add(new LeasedDevice(vf.Address, DeviceRole.VirtualFunction, vf.NumaNode, vf.Driver, vf.ModelName));
        }

        return null;
    }

    /// <summary>A free VF whose NIC shares a PCIe switch (an upstream bridge below the root port) with the GPU.</summary>
    private static PciDevice? FindSwitchPeerVf(HostUsage usage, PciDevice gpu, HashSet<PciAddress> taken)
    {
        HostTopology topology = usage.Context.Topology;
        IEnumerable<PciAddress> gpuSwitch = gpu.UpstreamBridges.Take(Math.Max(0, gpu.UpstreamBridges.Count - 1));
        var switchPorts = new HashSet<PciAddress>(gpuSwitch);
        if (switchPorts.Count == 0)
        {
            return null;
        }

        foreach (PciDevice pf in topology.PciDevices)
        {
            if (pf.Kind != DeviceKind.Nic || pf.Sriov is null || !pf.UpstreamBridges.Any(switchPorts.Contains))
            {
                continue;
            }

            foreach (PciAddress vfAddress in pf.Sriov.VirtualFunctions)
            {
                if (!usage.UsedDevices.Contains(vfAddress) && !taken.Contains(vfAddress) && usage.Index.Device(vfAddress) is { } vf)
                {
                    return vf;
                }
            }
        }

        return null;
    }

    private static bool MatchesModel(PciDevice d, string model) =>
        (d.ModelName?.Contains(model, StringComparison.OrdinalIgnoreCase) ?? false) ||
        string.Equals(Hex(d.DeviceId), model, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(d.DeviceId.ToString("x4", CultureInfo.InvariantCulture), model, StringComparison.OrdinalIgnoreCase);

    private static string Hex(ushort id) => "0x" + id.ToString("x4", CultureInfo.InvariantCulture);
}
