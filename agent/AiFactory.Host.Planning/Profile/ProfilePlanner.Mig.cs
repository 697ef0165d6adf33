using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Planning.Mig;

namespace AiFactory.Host.Planning.Profile;

/// <summary>The <c>mig</c> section: per GPU, the mode and the instances to destroy and create (through the MIG planner).</summary>
public static partial class ProfilePlanner
{
    private sealed partial class Context
    {
        public void PlanMig()
        {
            if (profile.Mig is not { } mig)
            {
                return;
            }

            if (current.MigUnavailable is { } why)
            {
                Error("mig", $"MIG state cannot be read: {why}");
                return;
            }

            if (current.MigHoldsUnavailable is { } unknown)
            {
                Error("mig", $"no layout can be planned around the GPU instances leases hold, as what they hold is unknown: {unknown}", holdsUnknown: true);
                return;
            }

            var claimed = new Dictionary<PciAddress, string>();
            for (int i = 0; i < mig.Gpus.Count; i++)
            {
                MigGpuProfile entry = mig.Gpus[i];
                string field = $"mig.gpus[{i}]";
                List<MigGpuState> gpus = [.. current.MigGpus.Where(g => Selects(entry.Gpu, g))];
                List<MigGpuUnreadable> unread = [.. current.MigUnreadableGpus.Where(u => MaySelect(entry.Gpu, u, gpus.Count))];
                if (unread.Count > 0)
                {
                    // The entry reaches a GPU whose MIG state is unknown: nothing can be planned for it, and the
                    // entry's other GPUs are not changed halfway without it.
                    Error(field + ".gpu", $"\"{entry.Gpu}\" selects {string.Join("; ", unread.Select(u => $"{u.Name}, whose MIG state cannot be read ({u.Error})"))}: nothing is planned for this entry");
                    continue;
                }

                if (gpus.Count == 0)
                {
                    Error(field + ".gpu", $"\"{entry.Gpu}\" matches no GPU NVML reports (GPUs: {string.Join(", ", current.MigGpus.Select(g => g.Name))})");
                    continue;
                }

                foreach (MigGpuState gpu in gpus)
                {
                    if (!claimed.TryAdd(gpu.Address, field))
                    {
                        Error(field + ".gpu", $"{gpu.Name} is already given a layout by {claimed[gpu.Address]}");
                        continue;
                    }

                    PlanGpu(field, entry, gpu, mig);
                }
            }
        }

        private void PlanGpu(string field, MigGpuProfile entry, MigGpuState gpu, MigSection mig)
        {
            bool enabled = entry.Enabled;
            IReadOnlyList<MigLayoutItem> layout = entry.Layout ?? [];
            if (entry.Config is { } name)
            {
                if (!mig.PartedConfigs.TryGetValue(name, out IReadOnlyList<MigPartedLayout>? entries))
                {
                    Error(field + ".config", $"no layout \"{name}\" in {mig.PartedSource ?? "the mig-parted file (mig.partedConfig is not set)"} (it has: {string.Join(", ", mig.PartedConfigs.Keys)})");
                    return;
                }

                MigPartedLayout? chosen = entries.FirstOrDefault(e =>
                    (e.Devices is null || e.Devices.Contains(gpu.Index)) && (e.DeviceFilter.Count == 0 || e.DeviceFilter.Contains(gpu.PciDeviceId)));
                if (chosen is null)
                {
                    _warnings.Add($"{field}.config: no entry of mig-configs.{name} selects {gpu.Name} (device id 0x{gpu.PciDeviceId:X8}); left as it is");
                    return;
                }

                enabled = chosen.MigEnabled;
                layout = [.. chosen.Profiles.Select(p => new MigLayoutItem(p, null))];
            }

            if (!gpu.MigCapable)
            {
                if (enabled)
                {
                    Error(field + ".gpu", $"{gpu.Name} has no MIG");
                }

                return;
            }

            if (_vfioTargets.Contains(gpu.Address))
            {
                Error(field + ".gpu", $"{gpu.Name} is also bound to vfio-pci by the vfio section: MIG is made by the host driver");
                return;
            }

            List<MigHold> held = [.. current.MigHeld.Where(h => h.Gpu == gpu.Address)];
            var steps = new List<ProfileStep>();
            if (!enabled)
            {
                if (held.Count > 0)
                {
                    Error(field + ".enabled", $"disabling MIG on {gpu.Name} would destroy {string.Join("; ", held)}: release the lease first");
                    return;
                }

                steps.AddRange(gpu.Instances.OrderByDescending(x => x.Placement.Start).Select(x => new DestroyMigInstanceStep(gpu.Address, gpu.Index, x.Profile, x.Placement) { Field = field, Compute = MigComputeLayout.Of(x) }));
                if (gpu.ModeCurrent || gpu.ModePending)
                {
                    steps.Add(new SetMigModeStep(gpu.Address, gpu.Index, gpu.ModeCurrent, false) { Field = field + ".enabled" });
                }
            }
            else
            {
                if (!gpu.ModeCurrent)
                {
                    steps.Add(new SetMigModeStep(gpu.Address, gpu.Index, false, true) { Field = field + ".enabled" });
                }

                if (gpu.Table.Profiles.Count == 0)
                {
                    Error(field, $"NVML reports no MIG profiles for {gpu.Name}");
                    return;
                }

                // Instances that exist while MIG is off go away with the mode change; plan against none.
                IReadOnlyList<MigInstance> now = gpu.ModeCurrent ? gpu.Instances : [];
                List<ProfileStep>? changes = layout.Any(l => l.Start is not null)
                    ? PlanExplicit(field, gpu, now, layout, held)
                    : PlanPacked(field, gpu, now, layout, held);
                if (changes is null)
                {
                    return;
                }

                steps.AddRange(changes);
            }

            if (steps.Count == 0)
            {
                return;
            }

            if (gpu.Processes.Count > 0)
            {
                Error(field + ".gpu", $"{gpu.Name} is in use by {string.Join(", ", gpu.Processes)}: stop them before its MIG layout changes ({string.Join("; ", steps.Select(s => s.Describe()))})");
                return;
            }

            _mig.AddRange(steps);
            _changedDevices.Add(gpu.Address);
        }

        /// <summary>Profiles only: the MIG planner keeps what can stay and places the rest, around what leases hold.</summary>
        private List<ProfileStep>? PlanPacked(string field, MigGpuState gpu, IReadOnlyList<MigInstance> now, IReadOnlyList<MigLayoutItem> layout, List<MigHold> held)
        {
            MigPlan plan = MigPlanner.Plan(gpu.Table, now, [.. layout.Select(l => l.Profile)], held: held);
            if (plan.IsRefused)
            {
                Error(field + ".layout", $"{string.Join(", ", layout)} does not fit {gpu.Name}: {plan.Refusal}");
                return null;
            }

            return
            [
                .. plan.Destroy.Select(x => new DestroyMigInstanceStep(gpu.Address, gpu.Index, x.Profile, x.Placement) { Field = field + ".layout", Compute = MigComputeLayout.Of(x) }),
                .. plan.Create.Select(c => new CreateMigInstanceStep(gpu.Address, gpu.Index, c.Profile.Name, c.Placement) { Field = field + ".layout" }),
            ];
        }

        /// <summary>
        /// Explicit placements: each checked against NVML's possible placements and against what leases hold (held
        /// instances stay, outside the layout); exact matches stay.
        /// </summary>
        private List<ProfileStep>? PlanExplicit(string field, MigGpuState gpu, IReadOnlyList<MigInstance> now, IReadOnlyList<MigLayoutItem> layout, List<MigHold> held)
        {
            now = [.. now.Where(x => !held.Any(h => h.Is(x)))];
            var wanted = new List<(MigProfile Profile, MigPlacement Placement)>();
            bool ok = true;
            for (int j = 0; j < layout.Count; j++)
            {
                string itemField = $"{field}.layout[{j}]";
                MigLayoutItem item = layout[j];
                MigProfile? p = gpu.Table.Find(item.Profile);
                if (p is null)
                {
                    Error(itemField, $"profile {item.Profile} is not offered by {gpu.Name} (it offers {string.Join(", ", gpu.Table.Profiles.Select(x => x.Name))})");
                    ok = false;
                    continue;
                }

                if (item.Start is not uint start)
                {
                    Error(itemField, $"{item.Profile} has no placement while other entries of {field}.layout do: give a placement (PROFILE@START) for every entry or for none");
                    ok = false;
                    continue;
                }

                MigPlacement? slot = p.Placements.Cast<MigPlacement?>().FirstOrDefault(x => x!.Value.Start == start);
                if (slot is null)
                {
                    Error(itemField, $"{item} is not a placement {gpu.Name} offers for {p.Name} (starts: {string.Join(", ", p.Placements.Select(x => x.Start))})");
                    ok = false;
                    continue;
                }

                foreach (MigHold hold in held.Where(h => h.Placement.Overlaps(slot.Value)))
                {
                    Error(itemField, $"{item} on {gpu.Name} overlaps {hold} (memory slices {slot.Value} and {hold.Placement}): release the lease first");
                    ok = false;
                }

                foreach ((MigProfile other, MigPlacement at) in wanted)
                {
                    if (at.Overlaps(slot.Value))
                    {
                        Error(itemField, $"{item} on {gpu.Name} overlaps {other.Name}@{at.Start} (memory slices {slot.Value} and {at})");
                        ok = false;
                    }
                }

                wanted.Add((p, slot.Value));
            }

            if (!ok)
            {
                return null;
            }

            List<MigProfile> heldProfiles = [.. held.Select(h => gpu.Table.Find(h.Profile)).OfType<MigProfile>()];
            string heldNote = held.Count == 0 ? string.Empty : $" besides {string.Join("; ", held)}";
            long compute = wanted.Sum(w => (long)w.Profile.SliceCount) + heldProfiles.Sum(p => (long)p.SliceCount);
            if (compute > gpu.Table.ComputeSlices)
            {
                Error(field + ".layout", $"{string.Join(" + ", layout)}{heldNote} needs {compute} compute slices; {gpu.Name} has {gpu.Table.ComputeSlices}");
                return null;
            }

            foreach (IGrouping<uint, MigProfile> g in wanted.Select(w => w.Profile).Concat(heldProfiles).GroupBy(p => p.Id))
            {
                MigProfile p = g.First();
                if (g.Count() > p.InstanceCount)
                {
                    Error(field + ".layout", $"{g.Count()} x {p.Name} wanted{heldNote}, but {gpu.Name} allows at most {p.InstanceCount}");
                    return null;
                }
            }

            List<MigInstance> stay = [.. now.Where(x => !x.IsOrphaned && wanted.Any(w => w.Profile.Id == x.ProfileId && w.Placement == x.Placement))];
            return
            [
                .. now.Where(x => !stay.Contains(x)).OrderByDescending(x => x.Placement.Start)
                    .Select(x => new DestroyMigInstanceStep(gpu.Address, gpu.Index, x.Profile, x.Placement) { Field = field + ".layout", Compute = MigComputeLayout.Of(x) }),
                .. wanted.Where(w => !stay.Any(x => x.ProfileId == w.Profile.Id && x.Placement == w.Placement)).OrderBy(w => w.Placement.Start)
                    .Select(w => new CreateMigInstanceStep(gpu.Address, gpu.Index, w.Profile.Name, w.Placement) { Field = field + ".layout" }),
            ];
        }

        /// <summary>
        /// Whether <paramref name="selector"/> selects (or, for a GPU without a known address, may select) the
        /// unreadable <paramref name="gpu"/>: by index exactly; by address exactly (one without an address may be it
        /// only when no readable GPU has that address, <paramref name="readableMatches"/> 0); by any other selector
        /// when its address matches or is unknown.
        /// </summary>
        private bool MaySelect(MigGpuSelector selector, MigGpuUnreadable gpu, int readableMatches)
        {
            if (selector.Index is int index)
            {
                return gpu.Index == index;
            }

            DeviceSelector s = selector.Selector!;
            if (gpu.Address is not PciAddress address)
            {
                return s.Address is null || readableMatches == 0;
            }

            if (s.Address is { } a)
            {
                return a == address;
            }

            return Find(address) is { } device ? s.Matches(device) : s.AllNvidiaGpus;
        }

        private bool Selects(MigGpuSelector selector, MigGpuState gpu)
        {
            if (selector.Index is int index)
            {
                return gpu.Index == index;
            }

            DeviceSelector s = selector.Selector!;
            if (s.Address is { } a)
            {
                return a == gpu.Address;
            }

            return Find(gpu.Address) is { } device ? s.Matches(device) : s.AllNvidiaGpus;
        }
    }
}
