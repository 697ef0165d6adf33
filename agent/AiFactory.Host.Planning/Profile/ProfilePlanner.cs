using System.Globalization;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Numa;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Planning.Profile;

/// <summary>
/// The profile policy: a pure function of (topology, current state, profile) → the steps that make the profile
/// hold, in kernel order, or validation errors naming the field and the reason. Opens nothing. A profile that
/// already holds gives no steps.
/// </summary>
public static partial class ProfilePlanner
{
    /// <summary>The policy's name, for logs.</summary>
    public const string Name = "node-profile-v1";

    /// <summary>Plans <paramref name="profile"/> against the machine as it is now.</summary>
    public static ProfilePlan Plan(HostTopology topology, ProfileCurrentState current, NodeProfile profile)
    {
        var ctx = new Context(topology, current, profile);
        ctx.PlanVfio();
        ctx.PlanSriov();
        ctx.PlanMig();
        ctx.PlanHugepages();
        ctx.PlanCpus();
        ctx.CheckServices();
        return ctx.Build();
    }

    private sealed partial class Context(HostTopology topology, ProfileCurrentState current, NodeProfile profile)
    {
        private readonly List<ProfileValidationError> _errors = [];
        private readonly List<string> _warnings = [];
        private readonly List<PciAddress> _gpusUnbound = [];
        private readonly List<ProfileStep> _binds = [];
        private readonly List<ProfileStep> _checks = [];
        private readonly List<ProfileStep> _persist = [];
        private readonly List<ProfileStep> _sriov = [];
        private readonly List<ProfileStep> _mig = [];
        private readonly List<ProfileStep> _hugepages = [];
        private readonly List<ProfileStep> _cpus = [];
        private readonly HashSet<PciAddress> _changedDevices = [];
        private readonly HashSet<PciAddress> _vfioTargets = [];
        private Dictionary<PciAddress, PciDevice>? _devices;
        private Dictionary<int, IReadOnlyList<PciAddress>>? _groups;
        private bool _needsVfio;

        public void PlanVfio()
        {
            if (profile.Vfio is not { } vfio)
            {
                return;
            }

            // Devices the host needs, and why: those listed in vfio.hostDevices, and those the hardware layer found.
            var host = new Dictionary<PciAddress, string>();
            for (int i = 0; i < vfio.HostDevices.Count; i++)
            {
                int matches = 0;
                foreach (PciDevice d in topology.PciDevices)
                {
                    if (vfio.HostDevices[i].Matches(d))
                    {
                        host.TryAdd(d.Address, $"listed in vfio.hostDevices[{i}]");
                        matches++;
                    }
                }

                if (matches == 0)
                {
                    Error($"vfio.hostDevices[{i}]", $"\"{vfio.HostDevices[i]}\" matches no device on this host");
                }
            }

            foreach ((PciAddress address, string why) in current.HostNeeded)
            {
                host.TryAdd(address, why);
            }

            var sriovPfs = new Dictionary<PciAddress, int>();
            for (int j = 0; j < profile.Sriov.Count; j++)
            {
                sriovPfs.TryAdd(profile.Sriov[j].PhysicalFunction, j);
            }

            var targets = new SortedDictionary<PciAddress, (string Field, PciAddress? CompanionOf)>();
            var groups = new SortedSet<int>();
            List<ProfileVfioDevices.VfioMatch>[] selected = ProfileVfioDevices.Select(vfio, topology, Groups());
            for (int i = 0; i < vfio.Devices.Count; i++)
            {
                string field = $"vfio.devices[{i}]";
                if (selected[i].Count == 0)
                {
                    Error(field, $"\"{vfio.Devices[i]}\" matches no device on this host");
                    continue;
                }

                foreach (ProfileVfioDevices.VfioMatch match in selected[i])
                {
                    PciDevice device = match.Device;
                    if (sriovPfs.TryGetValue(device.Address, out int j))
                    {
                        Error(field, $"{device.Address} is also listed as an SR-IOV PF in sriov[{j}]: a PF is either bound to vfio-pci or gives VFs, not both");
                        continue;
                    }

                    if (host.TryGetValue(device.Address, out string? needed))
                    {
                        Error(field, $"{device.Address} is {needed}: the host needs it");
                        continue;
                    }

                    if (TargetRefusal(device, sriovPfs) is { } refused)
                    {
                        Error(field, refused);
                        continue;
                    }

                    if (match.Group is not int group)
                    {
                        Error(field, $"{device.Address} has no IOMMU group (is the IOMMU on? intel_iommu=on / amd_iommu=on)");
                        continue;
                    }

                    IReadOnlyList<PciAddress> members = match.Members;
                    string listed = string.Join(", ", members);
                    string? refusal = null;
                    foreach (PciAddress member in members)
                    {
                        if (member == device.Address)
                        {
                            continue;
                        }

                        if (host.TryGetValue(member, out string? why))
                        {
                            refusal = $"IOMMU group {group} ({listed}) also holds {member}, a device the host needs ({why})";
                        }
                        else if (match.Bridges.Contains(member))
                        {
                            refusal = $"IOMMU group {group} ({listed}) also holds {member}, a PCI bridge; the whole group would go to vfio-pci";
                        }

                        if (refusal is not null)
                        {
                            break;
                        }
                    }

                    if (refusal is not null)
                    {
                        Error(field, refusal);
                        continue;
                    }

                    targets[device.Address] = (field, null);
                    groups.Add(group);
                    foreach (PciAddress member in members)
                    {
                        if (member != device.Address && !targets.ContainsKey(member))
                        {
                            targets[member] = (field, device.Address);
                        }
                    }
                }
            }

            _vfioTargets.UnionWith(targets.Keys);
            foreach ((PciAddress address, (string field, PciAddress? companionOf)) in targets)
            {
                if (UnreadableDevice(address) is { } unreadable)
                {
                    string what = companionOf is { } of ? $"{address} (in the IOMMU group of {of})" : address.ToString();
                    Error(field, $"{what}: {unreadable}, so its binding cannot be planned");
                    continue;
                }

                PciDevice? device = Find(address);
                if (device is null || IsBound(device))
                {
                    continue;
                }

                // A companion is checked as its own target would be (a bridge companion was refused with its group).
                string? refusal = companionOf is not null ? TargetRefusal(device, sriovPfs) : null;
                LeaseRefusal? leased = refusal is null ? LeaseBlocksBinding(address) : null;
                refusal ??= leased?.Reason ?? GpuInUse(device);
                if (refusal is not null)
                {
                    Error(field, companionOf is { } of ? $"{refusal} (it is in the IOMMU group of {of})" : refusal, leased?.HoldsUnknown == true);
                    continue;
                }

                // A companion listed itself keeps its own field; ordering by address keeps the plan stable.
                _binds.Add(new BindVfioStep(address, device.Driver, device.DriverOverride, companionOf) { Field = field });
                _changedDevices.Add(address);
                _needsVfio = true;
            }

            foreach (int group in groups)
            {
                if (GroupMembers(group).Any(_changedDevices.Contains))
                {
                    _checks.Add(new CheckVfioGroupStep(group) { Field = "vfio" });
                }
            }

            // Boot persistence: the vfio section owns the override files; exactly its devices have one.
            if (current.PersistedOverrides is { } persisted)
            {
                foreach ((PciAddress address, (string field, _)) in targets)
                {
                    string? now = persisted.GetValueOrDefault(address);
                    if (now != VfioPci)
                    {
                        _persist.Add(new PersistVfioOverrideStep(address, now, VfioPci) { Field = field });
                    }
                }

                foreach ((PciAddress address, string now) in persisted)
                {
                    if (!targets.ContainsKey(address))
                    {
                        _persist.Add(new PersistVfioOverrideStep(address, now, null) { Field = "vfio.devices" });
                    }
                }
            }
        }

        public void PlanSriov()
        {
            var seen = new HashSet<PciAddress>();
            for (int i = 0; i < profile.Sriov.Count; i++)
            {
                SriovProfile entry = profile.Sriov[i];
                string field = $"sriov[{i}]";
                if (!seen.Add(entry.PhysicalFunction))
                {
                    Error(field + ".pf", $"{entry.PhysicalFunction} is listed twice");
                    continue;
                }

                PciDevice? pf = Find(entry.PhysicalFunction);
                if (pf is null)
                {
                    Error(field + ".pf", $"no PCI device at {entry.PhysicalFunction}");
                    continue;
                }

                if (pf.Sriov is not { } sriov)
                {
                    Error(field + ".pf", $"{pf.Address} is not an SR-IOV physical function (no sriov_totalvfs)");
                    continue;
                }

                if (UnreadableDevice(pf.Address) is { } unreadable)
                {
                    Error(field, $"{pf.Address}: {unreadable}, so its VFs cannot be planned");
                    continue;
                }

                if (entry.NumVfs < 0 || entry.NumVfs > sriov.TotalVfs)
                {
                    Error(field + ".numVfs", $"{entry.NumVfs} VFs asked, but {pf.Address} has sriov_totalvfs {sriov.TotalVfs}");
                    continue;
                }

                if (entry.VfDriver is not null and not VfioPci)
                {
                    Error(field + ".vfDriver", $"\"{entry.VfDriver}\" is not supported: use vfio-pci, or leave it out for the host driver");
                    continue;
                }

                if (entry.DriversAutoprobe is bool autoprobe && sriov.DriversAutoprobe is bool now && autoprobe != now)
                {
                    _sriov.Add(new SetSriovAutoprobeStep(pf.Address, now, autoprobe) { Field = field + ".driversAutoprobe" });
                    _changedDevices.Add(pf.Address);
                }

                bool countChanges = sriov.NumVfs != entry.NumVfs;
                if (countChanges && LeaseBlocksVfCount(pf.Address, sriov.VirtualFunctions, sriov.NumVfs) is { } held)
                {
                    Error(field + ".numVfs", held);
                    continue;
                }

                if (countChanges)
                {
                    _sriov.Add(new SetNumVfsStep(pf.Address, sriov.NumVfs, entry.NumVfs) { Field = field + ".numVfs" });
                    _changedDevices.Add(pf.Address);
                }

                if (entry.VfDriver == VfioPci && entry.NumVfs > 0 && !countChanges &&
                    sriov.VirtualFunctions.Select(vf => (vf, UnreadableDevice(vf))).FirstOrDefault(x => x.Item2 is not null) is (PciAddress badVf, UnreadableValue why))
                {
                    Error(field + ".vfDriver", $"VF {badVf} of {pf.Address}: {why}, so its binding cannot be planned");
                    continue;
                }

                if (entry.VfDriver == VfioPci && entry.NumVfs > 0)
                {
                    bool allBound = !countChanges && sriov.VirtualFunctions.Count == entry.NumVfs &&
                        sriov.VirtualFunctions.All(vf => Find(vf) is { Driver: VfioPci, DriverOverride: VfioPci });
                    if (!allBound && sriov.VirtualFunctions.Where(vf => Find(vf) is not { Driver: VfioPci, DriverOverride: VfioPci }).Select(LeaseBlocksBinding).FirstOrDefault(r => r is not null) is { } blocked)
                    {
                        Error(field + ".vfDriver", blocked);
                        continue;
                    }

                    if (!allBound)
                    {
                        _sriov.Add(new BindVfsVfioStep(pf.Address, entry.NumVfs) { Field = field + ".vfDriver" });
                        _changedDevices.Add(pf.Address);
                        _needsVfio = true;
                    }
                }
            }
        }

        /// <summary>
        /// A <c>services[].holds</c> selector that matches no device here is named in a warning: the service would never
        /// be stopped for it, so a mistyped address would otherwise go unnoticed (not an error: one profile may serve
        /// a fleet whose hosts differ).
        /// </summary>
        public void CheckServices()
        {
            for (int i = 0; i < profile.Services.Count; i++)
            {
                ServiceProfile service = profile.Services[i];
                for (int j = 0; j < service.Holds.Count; j++)
                {
                    DeviceSelector selector = service.Holds[j];
                    if (!topology.PciDevices.Any(selector.Matches))
                    {
                        _warnings.Add($"services[{i}].holds[{j}]: \"{selector.Text}\" matches no device on this host: {service.Name} is never stopped for it");
                    }
                }
            }
        }

        public ProfilePlan Build()
        {
            if (_errors.Count > 0)
            {
                return new ProfilePlan { Errors = _errors, Warnings = _warnings, GpusUnbound = _gpusUnbound };
            }

            var steps = new List<ProfileStep>();
            if (_needsVfio && !current.VfioPciLoaded)
            {
                steps.Add(new LoadModuleStep(VfioPci) { Field = "vfio" });
            }

            var stops = new List<string>();
            for (int i = 0; i < profile.Services.Count; i++)
            {
                ServiceProfile service = profile.Services[i];
                if (!current.ActiveUnits.Contains(service.Name))
                {
                    continue;
                }

                bool holds = service.Holds.Count == 0
                    ? _changedDevices.Count > 0
                    : _changedDevices.Any(a => Find(a) is { } d && service.Holds.Any(s => s.Matches(d)));
                if (holds)
                {
                    steps.Add(new StopServiceStep(service.Name) { Field = $"services[{i}]" });
                    stops.Add(service.Name);
                }
            }

            steps.AddRange(_binds);
            steps.AddRange(_checks);
            steps.AddRange(_persist);
            steps.AddRange(_sriov);
            steps.AddRange(_mig);
            steps.AddRange(_hugepages);
            steps.AddRange(_cpus);
            for (int i = stops.Count - 1; i >= 0; i--)
            {
                steps.Add(new StartServiceStep(stops[i]) { Field = "services" });
            }

            return new ProfilePlan { Steps = steps, Warnings = _warnings, GpusUnbound = _gpusUnbound };
        }

        private IReadOnlyList<PciAddress> GroupMembers(int group) =>
            Groups().TryGetValue(group, out IReadOnlyList<PciAddress>? members) ? members : [];

        /// <summary>The members of each IOMMU group (<see cref="ProfileVfioDevices.Groups"/>), built once per plan.</summary>
        private Dictionary<int, IReadOnlyList<PciAddress>> Groups() => _groups ??= ProfileVfioDevices.Groups(topology);

        /// <summary>The device at an address, through an index built once per plan (a DGX has ~100 functions).</summary>
        private PciDevice? Find(PciAddress address)
        {
            if (_devices is null)
            {
                _devices = new Dictionary<PciAddress, PciDevice>(topology.PciDevices.Count);
                foreach (PciDevice d in topology.PciDevices)
                {
                    _devices.TryAdd(d.Address, d);
                }
            }

            return _devices.GetValueOrDefault(address);
        }

        private void Error(string field, string reason, bool holdsUnknown = false) => _errors.Add(new ProfileValidationError(field, reason) { HoldsUnknown = holdsUnknown });

        private static string Gib(long bytes) => (bytes / (1024.0 * 1024 * 1024)).ToString("0.##", CultureInfo.InvariantCulture) + " GiB";
    }

    private const string VfioPci = "vfio-pci";
}
