using System.Globalization;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Vfio;

namespace AiFactory.Host.Planning.Leases;

public static partial class LeasePlanner
{
    private static PlanResult? PickGpus(HostUsage usage, GpuRequest request, LeaseRequest lease, List<LeasedDevice> devices, int? onlyNode)
    {
        HostTopology topology = usage.Context.Topology;
        List<PciDevice> all = [.. topology.PciDevices.Where(d => d.Kind == DeviceKind.Gpu && !d.IsVirtualFunction)];
        if (all.Count == 0)
        {
            return PlanResult.Invalid("gpus.count", "this host has no GPU");
        }

        IReadOnlyDictionary<PciAddress, string> names = usage.Context.GpuNames ?? new Dictionary<PciAddress, string>();
        List<PciDevice> matching = request.Model is null ? all : [.. all.Where(d => MatchesModel(d, names.GetValueOrDefault(d.Address), request.Model))];
        if (matching.Count == 0)
        {
            return PlanResult.Invalid("gpus.model", $"no GPU matches \"{request.Model}\"; this host has: {AcceptedModelNames(all, names)}");
        }

        if (request.Count > matching.Count)
        {
            return PlanResult.Invalid("gpus.count", string.Create(CultureInfo.InvariantCulture, $"{request.Count} asked, this host has {matching.Count} {request.Model ?? "GPU"}(s)"));
        }

        if (request.NvlinkConnected && request.Count > 1 && !topology.PciDevices.Any(d => d.Kind == DeviceKind.NvSwitch))
        {
            return PlanResult.Invalid("gpus.nvlink", "an NVLink-connected set was asked, but this host has no NVSwitch fabric");
        }

        List<PciDevice> unleased = [.. matching.Where(d => usage.WholeGpuFree(d.Address) && GroupCanGo(usage, d.Address))];
        List<PciDevice> free = [.. unleased.Where(d => Processes(usage, d.Address) is null && (onlyNode is null || usage.CpuNodeOf(d.NumaNode) == onlyNode))];
        var byNode = free.GroupBy(d => usage.CpuNodeOf(d.NumaNode) ?? -1).ToList();
        if (free.Count < request.Count)
        {
            string perNode = string.Join(", ", matching.GroupBy(d => usage.CpuNodeOf(d.NumaNode) ?? -1).OrderBy(g => g.Key)
                .Select(g => string.Create(CultureInfo.InvariantCulture, $"node {g.Key}: {g.Count(d => free.Contains(d))} of {g.Count()}")));
            string message = string.Create(CultureInfo.InvariantCulture, $"{request.Count} asked, {free.Count} free ({perNode}){WhyNotFree(usage, matching)}");

            // Enough GPUs but for the processes on them: that is for the host's users to end, not a shortage.
            return unleased.Count >= request.Count ? PlanResult.InUse("gpus.count", message) : PlanResult.Short("gpus.count", null, message);
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

        AddCompanions(usage, chosen.Select(g => g.Address), devices);
        return null;
    }

    private static PlanResult? PickMig(HostUsage usage, MigRequest request, int? onlyNode, out MigPlacement? placement)
    {
        placement = null;
        IReadOnlyDictionary<PciAddress, string> names = usage.Context.GpuNames ?? new Dictionary<PciAddress, string>();
        List<MigCapacity> all = [.. (usage.Context.MigCapacity ?? [])
            .Where(c => string.Equals(c.Profile, request.Profile, StringComparison.OrdinalIgnoreCase))
            .Where(c => request.Model is null || (usage.Index.Device(c.Gpu) is { } d && MatchesModel(d, names.GetValueOrDefault(c.Gpu), request.Model)))];
        List<MigCapacity> offered = [.. all.Where(c => !usage.UnhealthyGpus.Contains(c.Gpu))];
        if (offered.Count == 0 && all.Count > 0)
        {
            return PlanResult.Short("mig.profile", null, string.Create(CultureInfo.InvariantCulture,
                $"no free placement for \"{request.Profile}\": the {all.Count} GPU(s) offering it are unhealthy ({all.Count} unhealthy: {string.Join(", ", all.Select(c => c.Gpu).Distinct())})"));
        }

        if (offered.Count == 0)
        {
            return PlanResult.Invalid("mig.profile", $"NVML reports no GPU in MIG mode offering profile \"{request.Profile}\"" + (request.Model is null ? string.Empty : $" on a {request.Model}"));
        }

        var candidates = new List<(MigCapacity Cap, (int Start, int Size) Slot, int FreeCount)>();
        foreach (MigCapacity cap in offered.Where(c => !usage.UsedDevices.Contains(c.Gpu) && (onlyNode is null || usage.CpuNodeOf(usage.Index.Device(c.Gpu)?.NumaNode) == onlyNode)))
        {
            var freeSlots = cap.FreePlacements.Where(p => !usage.UsedMig.Any(m => m.Gpu == cap.Gpu && m.PlacementStart < p.Start + p.Size && p.Start < m.PlacementStart + m.PlacementSize)).ToList();
            if (freeSlots.Count > 0)
            {
                candidates.Add((cap, freeSlots.OrderBy(s => s.Start).First(), freeSlots.Count));
            }
        }

        if (candidates.Count == 0)
        {
            int unhealthy = all.Select(c => c.Gpu).Distinct().Count(usage.UnhealthyGpus.Contains);
            return PlanResult.Short("mig.profile", null, string.Create(CultureInfo.InvariantCulture,
                $"no free placement for \"{request.Profile}\" on any of {offered.Count} GPU(s) offering it{(unhealthy > 0 ? $"; {unhealthy} more unhealthy" : string.Empty)}"));
        }

        // Pack: the GPU with the fewest free placements left, so other GPUs keep room for big profiles.
        var best = candidates.OrderBy(c => c.FreeCount).ThenBy(c => c.Cap.Gpu).First();
        placement = new MigPlacement(best.Cap.Gpu, best.Cap.Profile, best.Slot.Start, best.Slot.Size);
        return null;
    }

    /// <summary>
    /// VFs of compute-fabric NICs: first one under each leased GPU's PCIe switch (when paired), then the rest on the
    /// GPUs' (or the MIG GPU's) node(s); without GPUs, the node whose free VFs just cover the request. What does not
    /// fit there is refused under numa policy required (naming the node) and, under preferred, taken from the
    /// nearest other nodes with each such VF stated in <paramref name="spill"/> and added to <paramref name="spilled"/>.
    /// </summary>
    private static PlanResult? PickVfs(HostUsage usage, VfRequest request, NumaPolicy policy, MigPlacement? mig, List<LeasedDevice> devices, List<string> spill, HashSet<PciAddress> spilled, int? onlyNode)
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
            AddCompanions(usage, devices.Where(d => d.Role == DeviceRole.VirtualFunction).Select(d => d.Address), devices);
            return null;
        }

        int paired = request.Count - need;
        List<PciDevice> free = [.. all.Where(d => !usage.UsedDevices.Contains(d.Address) && !taken.Contains(d.Address) && GroupCanGo(usage, d.Address))];
        List<int> anchors = [.. gpus.Select(g => usage.CpuNodeOf(g.NumaNode) ?? -1)];
        if (mig is not null)
        {
            anchors.Add(usage.CpuNodeOf(usage.Index.Device(mig.Gpu)?.NumaNode) ?? -1);
        }

        anchors = [.. anchors.Distinct()];
        int NodeOf(PciDevice vf) => usage.CpuNodeOf(vf.NumaNode) ?? -1;
        List<PciDevice> chosen;
        if (anchors.Count > 0)
        {
            chosen = [.. free.Where(v => anchors.Contains(NodeOf(v))).Take(need)];
            if (chosen.Count < need && policy == NumaPolicy.Required)
            {
                return PlanResult.Short("vfs.count", anchors.Count == 1 && anchors[0] >= 0 ? anchors[0] : null, string.Create(CultureInfo.InvariantCulture,
                    $"{request.Count} asked, {paired + chosen.Count} free on NUMA node(s) {NodeList(anchors)} of the GPU(s) ({free.Count + paired} free on the host); numa policy required"));
            }
        }
        else
        {
            var byNode = free.GroupBy(NodeOf).Where(g => onlyNode is null || g.Key == onlyNode).ToList();
            var fit = byNode.Where(g => g.Count() >= need).OrderBy(g => g.Count()).ThenBy(g => g.Key).FirstOrDefault();
            var most = byNode.OrderByDescending(g => g.Count()).ThenBy(g => g.Key).FirstOrDefault();
            if (fit is null && policy == NumaPolicy.Required)
            {
                return PlanResult.Short("vfs.count", most is { Key: >= 0 } ? most.Key : null, string.Create(CultureInfo.InvariantCulture,
                    $"{request.Count} asked, at most {most?.Count() ?? 0} free on one NUMA node ({(most is null ? "none free" : "node " + NodeName(most.Key))}); numa policy required"));
            }

            IGrouping<int, PciDevice>? home = fit ?? most;
            chosen = home is null ? [] : [.. home.Take(need)];
            if (home is not null)
            {
                anchors = [home.Key];
            }
        }

        if (chosen.Count < need && anchors.Count > 0)
        {
            // Numa policy preferred: the nearest other nodes, each VF stated.
            int from = anchors[0];
            List<int> order = from >= 0 ? [.. usage.CpuNodesByDistance(from)] : [];
            foreach (PciDevice vf in free.Where(v => !chosen.Contains(v))
                         .OrderBy(v => order.IndexOf(NodeOf(v)) is var i && i >= 0 ? i : int.MaxValue).ThenBy(v => v.Address)
                         .Take(need - chosen.Count))
            {
                chosen.Add(vf);
                spilled.Add(vf.Address);
                spill.Add(string.Create(CultureInfo.InvariantCulture,
                    $"VF {vf.Address} (PF {vf.PhysicalFunction}) on node {NodeName(NodeOf(vf))}, off the lease's NUMA node(s) {NodeList(anchors)}"));
            }
        }

        if (chosen.Count < need)
        {
            List<string> beside = [.. all.Select(d => HostNeeds(usage, d.Address) is { } n ? $"{d.Address}: {n}" : null).OfType<string>()];
            return PlanResult.Short("vfs.count", null, string.Create(CultureInfo.InvariantCulture,
                $"{request.Count} asked, {paired + chosen.Count} free on the whole host{(beside.Count > 0 ? $"; {beside.Count} never leased because the host needs a device of its IOMMU group ({string.Join("; ", beside)})" : string.Empty)}{DestroysVfsClause(usage, all)}"));
        }

        foreach (PciDevice vf in chosen)
        {
            devices.Add(new LeasedDevice(vf.Address, DeviceRole.VirtualFunction, vf.NumaNode, vf.Driver, vf.ModelName));
        }

        AddCompanions(usage, devices.Where(d => d.Role == DeviceRole.VirtualFunction).Select(d => d.Address), devices);
        return null;
    }

    private static string NodeName(int node) => node >= 0 ? node.ToString(CultureInfo.InvariantCulture) : "unknown";

    private static string NodeList(IEnumerable<int> nodes) => string.Join(",", nodes.Select(NodeName));

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
                if (!usage.UsedDevices.Contains(vfAddress) && !taken.Contains(vfAddress) && usage.Index.Device(vfAddress) is { } vf && GroupCanGo(usage, vfAddress))
                {
                    return vf;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// Whether <paramref name="device"/> (a GPU or a VF) can go to vfio-pci with its whole IOMMU group: the host needs
    /// no device of the group (<see cref="HostNeeds"/>), no device of it is an SR-IOV PF with live VFs
    /// (<see cref="DestroysVfs"/>), and no other lease holds one of its companions.
    /// </summary>
    private static bool GroupCanGo(HostUsage usage, PciAddress device) =>
        HostNeeds(usage, device) is null && DestroysVfs(usage, device) is null &&
        usage.Index.Companions(device).All(c => !usage.UsedDevices.Contains(c.Address));

    /// <summary>
    /// The IOMMU-group companions of the <paramref name="leased"/> GPUs or VFs (the other non-bridge members of their
    /// groups, an audio function, another function of the card), each once and as <see cref="DeviceRole.IommuCompanion"/>
    /// unless the lease already holds it: they go to vfio-pci with the device, so the lease holds them too.
    /// </summary>
    private static void AddCompanions(HostUsage usage, IEnumerable<PciAddress> leased, List<LeasedDevice> devices)
    {
        foreach (PciAddress device in leased.ToList())
        {
            foreach (PciDevice c in usage.Index.Companions(device))
            {
                if (devices.All(d => d.Address != c.Address))
                {
                    devices.Add(new LeasedDevice(c.Address, DeviceRole.IommuCompanion, c.NumaNode, c.Driver, c.ModelName));
                }
            }
        }
    }

    /// <summary>
    /// Why the host needs <paramref name="device"/> or a device of its IOMMU group (the boot disk's controller, the
    /// management NIC: <see cref="HostTopology.HostNeeded"/>, as the node profile's vfio refusals use it), or null: a
    /// lease binds the whole group to vfio-pci, which would take that device from the host.
    /// </summary>
    private static string? HostNeeds(HostUsage usage, PciAddress device)
    {
        IReadOnlyDictionary<PciAddress, string> needed = usage.Context.Topology.HostNeeded;
        if (needed.Count == 0)
        {
            return null;
        }

        if (needed.TryGetValue(device, out string? why))
        {
            return $"{device} is {why}";
        }

        foreach (PciDevice c in usage.Index.Companions(device))
        {
            if (needed.TryGetValue(c.Address, out why))
            {
                return $"its IOMMU group also holds {c.Address}, {why}";
            }
        }

        return null;
    }

    /// <summary>
    /// Why binding <paramref name="device"/>'s IOMMU group to vfio-pci would destroy SR-IOV VFs, or null: the device or
    /// a companion is a PF with live VFs (<c>sriov_numvfs</c> above 0, as the node profile refuses to bind one), and
    /// unbinding it from its driver destroys them, the VFs other leases or the host use included. Without ACS a VF
    /// (or a GPU) can share its group with such a PF.
    /// </summary>
    private static string? DestroysVfs(HostUsage usage, PciAddress device)
    {
        if (usage.Index.Device(device) is { } self && VfioTarget.LiveVfs(self) is int own and > 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{device} is an SR-IOV PF with {own} live VFs");
        }

        foreach (PciDevice c in usage.Index.Companions(device))
        {
            if (VfioTarget.LiveVfs(c) is int live and > 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"its IOMMU group also holds {c.Address}, an SR-IOV PF with {live} live VFs");
            }
        }

        return null;
    }

    /// <summary>
    /// "; 1 never leased because its IOMMU group holds an SR-IOV PF with live VFs (...): binding the group to vfio-pci
    /// would destroy them" for those of <paramref name="devices"/> that <see cref="DestroysVfs"/> refuses (and the host
    /// needs nothing of: those are named once, for that); empty when none.
    /// </summary>
    private static string DestroysVfsClause(HostUsage usage, IEnumerable<PciDevice> devices)
    {
        List<string> refused = [.. devices.Where(d => HostNeeds(usage, d.Address) is null)
            .Select(d => DestroysVfs(usage, d.Address) is { } why ? $"{d.Address}: {why}" : null).OfType<string>()];
        return refused.Count == 0
            ? string.Empty
            : string.Create(CultureInfo.InvariantCulture,
                $"; {refused.Count} never leased because its IOMMU group holds an SR-IOV PF with live VFs ({string.Join("; ", refused)}): binding the group to vfio-pci would destroy them");
    }

    /// <summary>The compute processes NVML reports on <paramref name="gpu"/> ("PID 4242 (python3), PID 4243"), or null when none.</summary>
    private static string? Processes(HostUsage usage, PciAddress gpu) =>
        usage.Context.GpuProcesses is { } all && all.TryGetValue(gpu, out IReadOnlyList<string>? processes) && processes.Count > 0
            ? string.Join(", ", processes)
            : null;

    /// <summary>
    /// Why GPUs of the asked model are not free, besides other leases: "; 1 in MIG mode (0000:18:00.0): ...",
    /// "; 2 unhealthy (...)", "; 1 never leased because the host needs ...", "; 1 never leased because its IOMMU group
    /// holds an SR-IOV PF with live VFs (...)" and "; 1 in use by processes (...)";
    /// empty when no GPU is any of these.
    /// </summary>
    private static string WhyNotFree(HostUsage usage, List<PciDevice> matching)
    {
        var why = new System.Text.StringBuilder();
        List<string> busy = [.. matching.Where(d => usage.WholeGpuFree(d.Address)).Select(d => Processes(usage, d.Address) is { } p ? $"{d.Address}: {p}" : null).OfType<string>()];
        if (busy.Count > 0)
        {
            why.Append(CultureInfo.InvariantCulture, $"; {busy.Count} in use by processes ({string.Join("; ", busy)}): stop them before the GPU is leased (it is unbound from its driver)");
        }

        List<string> hostNeeded = [.. matching.Select(d => HostNeeds(usage, d.Address) is { } n ? $"{d.Address}: {n}" : null).OfType<string>()];
        if (hostNeeded.Count > 0)
        {
            why.Append(CultureInfo.InvariantCulture,
                $"; {hostNeeded.Count} never leased because the host needs a device of its IOMMU group ({string.Join("; ", hostNeeded)}): binding the group to vfio-pci would take that device from the host");
        }

        why.Append(DestroysVfsClause(usage, matching));
        List<PciAddress> mig = [.. matching.Select(d => d.Address).Where(a => usage.MigModeGpus.Contains(a) || usage.MigGpus.Contains(a))];
        if (mig.Count > 0)
        {
            why.Append(CultureInfo.InvariantCulture, $"; {mig.Count} in MIG mode ({string.Join(", ", mig)}): lease a MIG profile on it with --mig, or turn MIG mode off to lease it whole");
        }

        List<PciAddress> sick = [.. matching.Select(d => d.Address).Where(usage.UnhealthyGpus.Contains)];
        if (sick.Count > 0)
        {
            why.Append(CultureInfo.InvariantCulture, $"; {sick.Count} unhealthy ({string.Join(", ", sick)}): see aifactoryctl gpu list");
        }

        return why.ToString();
    }

    /// <summary>
    /// Whether <paramref name="model"/> names the GPU, case-insensitively: a part of its pci.ids name ("H100 SXM5"),
    /// a part of its NVML name ("NVIDIA H100 80GB HBM3"), its PCI vendor:device id ("10de:2330") or its device id
    /// ("2330", "0x2330").
    /// </summary>
    private static bool MatchesModel(PciDevice d, string? nvmlName, string model) =>
        (d.ModelName?.Contains(model, StringComparison.OrdinalIgnoreCase) ?? false) ||
        (nvmlName?.Contains(model, StringComparison.OrdinalIgnoreCase) ?? false) ||
        string.Equals(VendorDevice(d), model, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(Hex(d.DeviceId), model, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(d.DeviceId.ToString("x4", CultureInfo.InvariantCulture), model, StringComparison.OrdinalIgnoreCase);

    /// <summary>Each distinct GPU as the names <c>--gpu-model</c> accepts for it: "H100 SXM5 80GB" / "NVIDIA H100 80GB HBM3" / 10de:2330.</summary>
    private static string AcceptedModelNames(List<PciDevice> gpus, IReadOnlyDictionary<PciAddress, string> names) =>
        string.Join(", ", gpus.Select(d => string.Join(" / ", new[] { d.ModelName, names.GetValueOrDefault(d.Address) }
                .Where(n => !string.IsNullOrEmpty(n)).Distinct(StringComparer.OrdinalIgnoreCase).Select(n => $"\"{n}\"")
                .Append(VendorDevice(d))))
            .Distinct());

    private static string VendorDevice(PciDevice d) =>
        d.VendorId.ToString("x4", CultureInfo.InvariantCulture) + ":" + d.DeviceId.ToString("x4", CultureInfo.InvariantCulture);

    private static string Hex(ushort id) => "0x" + id.ToString("x4", CultureInfo.InvariantCulture);
}
