using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Planning.Mig;

namespace AiFactory.Agent.Gpu;

/// <summary>The outcome of one apply: the plan, each step done (read back), orphans removed, the layout at the end.</summary>
internal sealed record MigApplyResult(PciAddress Address, MigPlan Plan, IReadOnlyList<string> Steps, IReadOnlyList<string> OrphansRemoved, IReadOnlyList<MigInstance> Final);

/// <summary>The outcome of a MIG mode change.</summary>
internal sealed record MigModeResult(PciAddress Address, bool Enabled, bool Pending, bool ResetRequired, bool ResetDone, string Message);

/// <summary>
/// Applies MIG layouts with explicit placements: removes orphaned GPU instances, destroys what must go (compute
/// instances first, highest placement first), creates GPU instances at their planned placement and then their compute
/// instance, and reads the GPU back after every change, so no step reports a success the driver did not make.
/// GPU instances leases hold (<see cref="IMigHolds"/>) are never destroyed, not even as orphans, and MIG is never
/// disabled under them: layouts are planned around them, and one that cannot be is refused naming the lease.
/// </summary>
internal sealed class MigApplier(GpuNvml nvml, GpuInventory inventory, IMigHolds? holds = null)
{
    private readonly Lock _gate = new();
    private readonly IMigHolds _holds = holds ?? NoMigHolds.Instance;

    public MigPlan Plan(string gpu, IReadOnlyList<string> wanted, bool keepExisting, out PciAddress address)
    {
        INvml api = nvml.Require();
        (NvmlDevice device, address, _) = inventory.Resolve(gpu);
        MigProfileTable table = RequireMig(api, device, address);
        PciAddress at = address;
        return _holds.While(held => MigPlanner.Plan(table, MigReader.ReadInstances(api, device, table), wanted, keepExisting, On(held, at)));
    }

    /// <summary>Applies <paramref name="wanted"/> on <paramref name="gpu"/>, planned around the instances leases hold on it.</summary>
    public MigApplyResult Apply(string gpu, IReadOnlyList<string> wanted, bool keepExisting) =>
        _holds.While(held => Apply(gpu, wanted, keepExisting, held));

    private MigApplyResult Apply(string gpu, IReadOnlyList<string> wanted, bool keepExisting, IReadOnlyList<MigHold> allHeld)
    {
        lock (_gate)
        {
            INvml api = nvml.Require();
            (NvmlDevice device, PciAddress address, _) = inventory.Resolve(gpu);
            MigProfileTable table = ReadOrRefuse(() => RequireMig(api, device, address), address);
            IReadOnlyList<MigHold> held = On(allHeld, address);
            var steps = new List<string>();
            var orphans = new List<string>();

            // 1. A GPU instance without compute instances is left by a failed create: remove it first, unless a lease
            //    holds it (its lost compute instance is the lease's drift to report, not this apply's to clean up).
            //    The whole state is read before anything is written: a GPU whose state cannot be read is left untouched.
            var before = ReadOrRefuse(() => MigReader.ReadHandles(api, device, table), address);
            foreach (var (instance, handle, _) in before.Where(h => h.Instance.IsOrphaned && !held.Any(x => x.Is(h.Instance))))
            {
                api.DestroyGpuInstance(handle);
                ExpectGone(api, device, table, instance, address);
                orphans.Add($"{instance.Profile}@{instance.Placement} (GPU instance {instance.GpuInstanceId})");
            }

            IReadOnlyList<MigInstance> current = MigReader.ReadInstances(api, device, table);
            MigPlan plan = MigPlanner.Plan(table, current, wanted, keepExisting, held);
            if (plan.IsRefused || plan.IsNoChange)
            {
                return new MigApplyResult(address, plan, steps, orphans, current);
            }

            // 2. Nothing is destroyed under a running process: nvml.h lets a compute instance with processes
            //    answer IN_USE, which would stop the apply halfway; refuse first, naming them.
            var doomed = plan.Destroy.Select(d => d.GpuInstanceId).ToHashSet();
            if (api.GetComputeProcesses(device).Where(p => p.GpuInstanceId is uint gi && doomed.Contains(gi)).ToList() is { Count: > 0 } users)
            {
                throw new MigRefusedException($"processes run on instances this layout destroys on {address}: {string.Join(", ", users.Select(u => $"PID {u.Pid} (GPU instance {u.GpuInstanceId})"))}; stop them first; nothing was changed");
            }

            var destroyed = new List<MigInstance>();
            var created = new List<(uint Id, MigCreate Create)>();
            try
            {
                // 3. Destroy what goes: compute instances in reverse creation order, then the GPU instance; read back.
                foreach (MigInstance gone in plan.Destroy)
                {
                    var live = MigReader.ReadHandles(api, device, table).Single(h => h.Instance.GpuInstanceId == gone.GpuInstanceId);
                    foreach (NvmlComputeInstance ci in live.Compute.Reverse())
                    {
                        api.DestroyComputeInstance(ci);
                    }

                    api.DestroyGpuInstance(live.Handle);
                    destroyed.Add(gone);
                    ExpectGone(api, device, table, gone, address);
                    steps.Add($"destroyed {gone.Profile}@{gone.Placement} (GPU instance {gone.GpuInstanceId})");
                }

                // 4. Create at the planned placement, then the full-size compute instance; read back each.
                foreach (MigCreate create in plan.Create)
                {
                    uint createdId = CreateOne(api, device, table, create, address);
                    created.Add((createdId, create));
                    steps.Add($"created {create} (GPU instance {createdId})");
                }

                // 5. Final read back: the GPU holds exactly what the plan kept (held instances included) and created.
                IReadOnlyList<MigInstance> final = MigReader.ReadInstances(api, device, table);
                var want = plan.Keep.Select(k => k.ProfileId).Concat(plan.Create.Select(c => c.Profile.Id)).Order();
                if (!want.SequenceEqual(final.Select(f => f.ProfileId).Order()))
                {
                    throw new InvalidOperationException($"after applying, {address} holds {string.Join(", ", final.Select(f => f.Profile))}, not the planned layout");
                }

                return new MigApplyResult(address, plan, steps, orphans, final);
            }
            catch (Exception ex) when (ex is NvmlException or InvalidOperationException)
            {
                throw new InvalidOperationException(RollBack(api, device, table, address, ex, steps, destroyed, created), ex);
            }
        }
    }

    /// <summary>
    /// Undoes what a failed apply did, newest first: destroys the GPU instances it created itself (by their id, so
    /// never one another party made meanwhile) and creates again the ones it destroyed, at their placements. Returns
    /// the message to report: what failed, what was done, and what was rolled back or could not be.
    /// </summary>
    private static string RollBack(INvml api, NvmlDevice device, MigProfileTable table, PciAddress address, Exception failure, List<string> steps, List<MigInstance> destroyed, List<(uint Id, MigCreate Create)> created)
    {
        var undone = new List<string>();
        var failed = new List<string>();
        foreach ((uint id, MigCreate create) in Enumerable.Reverse(created))
        {
            try
            {
                var live = MigReader.ReadHandles(api, device, table).SingleOrDefault(h => h.Instance.GpuInstanceId == id);
                if (live.Instance is null)
                {
                    undone.Add($"{create} (GPU instance {id}) already gone");
                    continue;
                }

                foreach (NvmlComputeInstance ci in live.Compute.Reverse())
                {
                    api.DestroyComputeInstance(ci);
                }

                api.DestroyGpuInstance(live.Handle);
                ExpectGone(api, device, table, live.Instance, address);
                undone.Add($"destroyed {create} (GPU instance {id})");
            }
            catch (Exception ex) when (ex is NvmlException or InvalidOperationException)
            {
                failed.Add($"destroying {create} (GPU instance {id}): {ex.Message}");
            }
        }

        foreach (MigInstance gone in Enumerable.Reverse(destroyed))
        {
            if (table.Profiles.FirstOrDefault(p => p.Id == gone.ProfileId) is not { } profile)
            {
                failed.Add($"creating {gone.Profile}@{gone.Placement} again: the GPU offers no such profile");
                continue;
            }

            // Exactly as it was: the same compute instances (profiles and placements) inside, not one full-size one.
            var again = new MigCreate(profile, gone.Placement);
            MigComputeLayout layout = MigComputeLayout.Of(gone);
            try
            {
                uint id = CreateOne(api, device, table, again, address, layout);
                undone.Add($"created {again} again with its compute instances {Describe(layout)} (GPU instance {id})");
            }
            catch (Exception ex) when (ex is NvmlException or InvalidOperationException)
            {
                failed.Add($"creating {gone.Profile}@{gone.Placement} again with its compute instances {Describe(layout)}: {ex.Message}");
            }
        }

        string done = steps.Count == 0 ? "nothing was changed before" : "done before: " + string.Join("; ", steps);
        string rolledBack = undone.Count == 0 ? string.Empty : "; rolled back: " + string.Join("; ", undone);
        return failed.Count == 0
            ? $"applying on {address} failed ({failure.Message}); {done}{rolledBack}"
            : $"applying on {address} failed ({failure.Message}); {done}{rolledBack}; ROLLBACK FAILED: {string.Join("; ", failed)}: the GPU is left between layouts";
    }

    public MigModeResult SetMode(string gpu, bool enabled, bool reset, bool resetAllowed) =>
        _holds.While(held => SetMode(gpu, enabled, reset, resetAllowed, held));

    private MigModeResult SetMode(string gpu, bool enabled, bool reset, bool resetAllowed, IReadOnlyList<MigHold> held)
    {
        lock (_gate)
        {
            INvml api = nvml.Require();
            (NvmlDevice device, PciAddress address, _) = inventory.Resolve(gpu);
            (bool current, bool pending) = api.GetMigMode(device) ?? throw new MigRefusedException($"{address} has no MIG");
            if (current == enabled && pending == enabled)
            {
                return new MigModeResult(address, current, pending, false, false, $"MIG is already {(enabled ? "enabled" : "disabled")} on {address}");
            }

            if (!enabled && On(held, address) is { Count: > 0 } leased)
            {
                throw new MigRefusedException($"disabling MIG on {address} would destroy {string.Join("; ", leased)}: release the lease first; nothing was changed");
            }

            IReadOnlyList<NvmlProcess> processes = api.GetComputeProcesses(device);
            if (processes.Count > 0)
            {
                throw new MigRefusedException($"processes use {address}: PID {string.Join(", ", processes.Select(p => p.Pid))}; stop them before changing MIG mode");
            }

            NvmlReturn activation = api.SetMigMode(device, enabled);
            (current, pending) = api.GetMigMode(device)!.Value;
            if (activation == NvmlReturn.Success && current == enabled)
            {
                return new MigModeResult(address, current, pending, false, false, $"MIG {(enabled ? "enabled" : "disabled")} on {address}");
            }

            bool resetNeeded = activation is NvmlReturn.ResetRequired or NvmlReturn.InUse || current != enabled;
            if (!reset || !resetAllowed)
            {
                string why = !reset ? "ask again with reset to reset this GPU only" : "this agent runs read-only and will not reset a GPU";
                return new MigModeResult(address, current, pending, resetNeeded, false, $"MIG mode on {address} is pending ({activation.Describe()}): {why}");
            }

            // Function-level reset of this one device through its own sysfs reset file; no other GPU is touched.
            string resetFile = Path.Combine(nvml.SysfsRoot, "bus/pci/devices", address.ToString(), "reset");
            File.WriteAllText(resetFile, "1");
            (current, pending) = api.GetMigMode(device)!.Value;
            return new MigModeResult(address, current, pending, current != enabled, true,
                current == enabled ? $"reset {address}; MIG is now {(enabled ? "enabled" : "disabled")}" : $"reset {address}, but MIG mode is still pending");
        }
    }

    /// <summary>
    /// Creates one instance of <paramref name="profile"/> at exactly <paramref name="start"/> (a lease's planned
    /// placement), read back; nothing stays on failure.
    /// </summary>
    /// <param name="gpu">An index, bus id or UUID.</param>
    /// <param name="profile">The GPU instance profile name.</param>
    /// <param name="start">The placement's start.</param>
    /// <param name="size">The placement's size.</param>
    /// <param name="compute">The compute instances to create inside, exactly (a rollback restoring a destroyed instance); null: one of the full size.</param>
    public MigInstance CreateAt(string gpu, string profile, uint start, uint size, MigComputeLayout? compute = null)
    {
        lock (_gate)
        {
            INvml api = nvml.Require();
            (NvmlDevice device, PciAddress address, _) = inventory.Resolve(gpu);
            MigProfileTable table = RequireMig(api, device, address);
            MigProfile p = table.Find(profile) ?? throw new MigRefusedException($"{address} offers no MIG profile \"{profile}\"");
            uint id = CreateOne(api, device, table, new MigCreate(p, new MigPlacement(start, size)), address, compute);
            return MigReader.ReadInstances(api, device, table).Single(i => i.GpuInstanceId == id);
        }
    }

    /// <summary>
    /// Destroys the instance of <paramref name="profile"/> at <paramref name="start"/> (compute instances first), read
    /// back; false when none is there. An instance a lease holds is refused unless <paramref name="forLease"/> is
    /// that lease (its release).
    /// </summary>
    /// <param name="gpu">An index, bus id or UUID.</param>
    /// <param name="profile">The profile name.</param>
    /// <param name="start">The placement's start.</param>
    /// <param name="forLease">The lease releasing it, if any.</param>
    /// <param name="gpuInstanceId">Only the GPU instance of this id (one the caller created itself); another there is left alone.</param>
    public bool DestroyAt(string gpu, string profile, uint start, string? forLease = null, uint? gpuInstanceId = null) =>
        _holds.While(held => DestroyAt(gpu, profile, start, forLease, gpuInstanceId, held));

    private bool DestroyAt(string gpu, string profile, uint start, string? forLease, uint? gpuInstanceId, IReadOnlyList<MigHold> held)
    {
        lock (_gate)
        {
            INvml api = nvml.Require();
            (NvmlDevice device, PciAddress address, _) = inventory.Resolve(gpu);
            if (On(held, address).FirstOrDefault(h => h.Placement.Start == start && string.Equals(h.Profile, profile, StringComparison.OrdinalIgnoreCase) && h.LeaseId != forLease) is { } hold)
            {
                throw new MigRefusedException($"{hold}: release the lease first; nothing was destroyed");
            }

            MigProfileTable table = RequireMig(api, device, address);
            var live = MigReader.ReadHandles(api, device, table)
                .Where(h => h.Instance.Placement.Start == start && string.Equals(h.Instance.Profile, profile, StringComparison.OrdinalIgnoreCase))
                .Where(h => gpuInstanceId is not uint id || h.Instance.GpuInstanceId == id)
                .ToList();
            if (live.Count == 0)
            {
                return false;
            }

            foreach (NvmlComputeInstance ci in live[0].Compute.Reverse())
            {
                api.DestroyComputeInstance(ci);
            }

            api.DestroyGpuInstance(live[0].Handle);
            ExpectGone(api, device, table, live[0].Instance, address);
            return true;
        }
    }

    /// <summary>The GPU instances leases hold now, for planning a node profile's MIG section around them.</summary>
    public IReadOnlyList<MigHold> Held() => _holds.While(held => held);

    /// <summary>
    /// Every GPU NVML sees, with its MIG mode and GPU instances, for checking the ledger against. Each GPU is read on
    /// its own: one NVML fails on (lost, no handle) carries the error, and the others are reported as usual. A GPU NVML
    /// gives no handle or bus id for is named by the nvidia-bound sysfs address NVML accounts for no other way (when
    /// one is left for it); says why only when NVML cannot be read at all (absent, or unable to count GPUs).
    /// </summary>
    public MigObservation Observe()
    {
        if (nvml.Nvml is not INvml api)
        {
            return MigObservation.Unreadable($"NVML is not available ({nvml.Error})");
        }

        var gpus = new Dictionary<PciAddress, MigGpuReading>();
        var unaddressed = new List<string>();
        lock (_gate)
        {
            uint count;
            try
            {
                count = api.DeviceCount;
            }
            catch (NvmlException ex)
            {
                return MigObservation.Unreadable($"NVML cannot count GPUs ({ex.Message})");
            }

            for (uint i = 0; i < count; i++)
            {
                NvmlDevice device;
                PciAddress address;
                try
                {
                    device = api.GetDevice(i);
                    address = GpuInventory.Address(api, device);
                }
                catch (Exception ex) when (ex is NvmlException or FormatException)
                {
                    unaddressed.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"GPU {i}: {ex.Message}"));
                    continue;
                }

                try
                {
                    gpus[address] = api.GetMigMode(device) is (true, _)
                        ? new MigGpuReading(true, MigReader.ReadInstances(api, device, MigReader.ReadProfiles(api, device)), null)
                        : new MigGpuReading(false, [], null);
                }
                catch (NvmlException ex)
                {
                    gpus[address] = new MigGpuReading(false, [], ex.Message);
                }
            }
        }

        if (unaddressed.Count > 0)
        {
            // Which sysfs GPU an index without a handle is, only sysfs can say: the nvidia-bound ones NVML named no other way.
            IReadOnlyList<PciAddress> missing = NvidiaSysfsGpus.Unaccounted(NvidiaSysfsGpus.Read(nvml.SysfsRoot), gpus.Keys);
            string why = unaddressed.Count == 1 && missing.Count == 1
                ? $"NVML gives no handle for it ({unaddressed[0]})"
                : $"NVML gives no handle for {unaddressed.Count} GPU(s) and cannot say which is which ({string.Join("; ", unaddressed)})";
            foreach (PciAddress address in missing)
            {
                gpus[address] = new MigGpuReading(false, [], why);
            }
        }

        return new MigObservation(gpus, null) { Unaddressed = unaddressed };
    }

    /// <summary>
    /// Free placements per MIG-enabled GPU and profile (placements no existing instance overlaps), for the lease
    /// planner; empty without NVML. A GPU NVML fails on is left out.
    /// </summary>
    public IReadOnlyList<AiFactory.Host.Model.Leases.MigCapacity> Capacity()
    {
        if (nvml.Nvml is not INvml api)
        {
            return [];
        }

        var result = new List<AiFactory.Host.Model.Leases.MigCapacity>();
        lock (_gate)
        {
            uint count = api.DeviceCount;
            IReadOnlyDictionary<uint, string> ambiguous = inventory.ReviewIdentities(api);
            for (uint i = 0; i < count; i++)
            {
                if (ambiguous.ContainsKey(i))
                {
                    continue; // shares its UUID or bus id with another GPU: never leased
                }

                try
                {
                    NvmlDevice device = api.GetDevice(i);
                    if (api.GetMigMode(device) is not (true, _))
                    {
                        continue;
                    }

                    PciAddress address = GpuInventory.Address(api, device);
                    MigProfileTable table = MigReader.ReadProfiles(api, device);
                    IReadOnlyList<MigInstance> used = MigReader.ReadInstances(api, device, table);
                    foreach (MigProfile p in table.Profiles)
                    {
                        List<(int Start, int Size)> free = [.. p.Placements
                            .Where(x => !used.Any(u => u.Placement.Start < x.Start + x.Size && x.Start < u.Placement.Start + u.Placement.Size))
                            .Select(x => ((int)x.Start, (int)x.Size))];
                        result.Add(new AiFactory.Host.Model.Leases.MigCapacity(address, p.Name, free));
                    }
                }
                catch (NvmlException)
                {
                    // Leave this GPU out: the planner then does not offer it.
                }
            }
        }

        return result;
    }

    /// <summary>Reads a GPU's MIG state; an NVML failure becomes a refusal naming the GPU, before anything is changed.</summary>
    private static T ReadOrRefuse<T>(Func<T> read, PciAddress address)
    {
        try
        {
            return read();
        }
        catch (NvmlException ex)
        {
            throw new MigRefusedException($"the MIG state of {address} cannot be read ({ex.Message}); nothing was changed on it");
        }
    }

    /// <summary>The holds on the GPU at <paramref name="address"/>.</summary>
    private static IReadOnlyList<MigHold> On(IReadOnlyList<MigHold> held, PciAddress address) => [.. held.Where(h => h.Gpu == address)];

    /// <summary>
    /// Creates one GPU instance at its placement and then its compute instances, reading back each: the full-size one,
    /// or exactly <paramref name="compute"/> (each at its placement, and nothing else) when given. Nothing stays on
    /// failure. Returns the GPU instance id.
    /// </summary>
    private static uint CreateOne(INvml api, NvmlDevice device, MigProfileTable table, MigCreate create, PciAddress address, MigComputeLayout? compute = null)
    {
        NvmlGpuInstance gi = api.CreateGpuInstance(device, create.Profile.Id, new NvmlPlacement(create.Placement.Start, create.Placement.Size));
        NvmlGpuInstanceInfo info = api.GetGpuInstanceInfo(gi);
        MigInstance created = MigReader.ReadInstances(api, device, table).SingleOrDefault(i => i.GpuInstanceId == info.Id)
            ?? throw new InvalidOperationException($"created {create} on {address} but NVML does not list it");
        if (created.Placement != create.Placement || created.ProfileId != create.Profile.Id)
        {
            throw new InvalidOperationException($"asked for {create} on {address}, NVML reports {created.Profile}@{created.Placement}");
        }

        try
        {
            if (compute is null)
            {
                uint ciProfile = FullComputeProfile(api, gi, create.Profile) ?? throw new InvalidOperationException($"{create.Profile.Name} on {address} offers no compute instance profile of {create.Profile.SliceCount} slices");
                api.CreateComputeInstance(gi, ciProfile);
                if (MigReader.ReadInstances(api, device, table).Single(i => i.GpuInstanceId == info.Id).IsOrphaned)
                {
                    throw new InvalidOperationException($"compute instance of {create} on {address} not found after creating it");
                }
            }
            else
            {
                foreach (MigComputeSlot slot in compute.Slots)
                {
                    api.CreateComputeInstance(gi, slot.ProfileId, new NvmlPlacement(slot.Start, slot.Size));
                }

                MigComputeLayout now = MigComputeLayout.Of(MigReader.ReadInstances(api, device, table).Single(i => i.GpuInstanceId == info.Id));
                if (!now.SameAs(compute))
                {
                    throw new InvalidOperationException($"asked for compute instances {Describe(compute)} in {create} on {address}, NVML reports {Describe(now)}");
                }
            }
        }
        catch (Exception ex) when (ex is NvmlException or InvalidOperationException)
        {
            // Do not leave an orphaned or partly filled GPU instance behind: a later attempt starts from nothing.
            RemoveWithComputeInstances(api, device, table, info.Id);
            ExpectGone(api, device, table, created, address);
            string what = compute is null ? "the compute instance" : $"the compute instances {Describe(compute)}";
            throw new InvalidOperationException($"creating {what} of {create} on {address} failed ({ex.Message}); the GPU instance was removed again", ex);
        }

        return info.Id;
    }

    /// <summary>Destroys the GPU instance <paramref name="gpuInstanceId"/> and whatever compute instances it holds.</summary>
    private static void RemoveWithComputeInstances(INvml api, NvmlDevice device, MigProfileTable table, uint gpuInstanceId)
    {
        var live = MigReader.ReadHandles(api, device, table).SingleOrDefault(h => h.Instance.GpuInstanceId == gpuInstanceId);
        if (live.Instance is null)
        {
            return;
        }

        foreach (NvmlComputeInstance ci in live.Compute.Reverse())
        {
            api.DestroyComputeInstance(ci);
        }

        api.DestroyGpuInstance(live.Handle);
    }

    /// <summary>"0@0:1, 0@1:1" (compute instance profile id @ placement), or "none".</summary>
    private static string Describe(MigComputeLayout layout) => layout.Slots.Count == 0 ? "none" : "[" + string.Join(", ", layout.Slots) + "]";

    private static MigProfileTable RequireMig(INvml api, NvmlDevice device, PciAddress address)
    {
        (bool current, bool pending) = api.GetMigMode(device) ?? throw new MigRefusedException($"{address} has no MIG");
        if (!current)
        {
            throw new MigRefusedException(pending
                ? $"MIG is pending on {address}: it needs a reset (aifactoryctl mig mode --enable --reset)"
                : $"MIG is not enabled on {address} (aifactoryctl mig mode {address} --enable)");
        }

        return MigReader.ReadProfiles(api, device);
    }

    private static uint? FullComputeProfile(INvml api, NvmlGpuInstance gi, MigProfile profile)
    {
        // Asked for by index (NVML_COMPUTE_INSTANCE_PROFILE_*); created by the id NVML answers with.
        for (uint index = 0; index < 0x10; index++)
        {
            NvmlComputeInstanceProfile? ci = api.GetComputeInstanceProfile(gi, index);
            if (ci is not null && ci.SliceCount == profile.SliceCount)
            {
                return ci.Id;
            }
        }

        return null;
    }

    private static void ExpectGone(INvml api, NvmlDevice device, MigProfileTable table, MigInstance instance, PciAddress address)
    {
        if (MigReader.ReadInstances(api, device, table).Any(i => i.GpuInstanceId == instance.GpuInstanceId))
        {
            throw new InvalidOperationException($"destroyed GPU instance {instance.GpuInstanceId} ({instance.Profile}@{instance.Placement}) on {address}, but NVML still lists it");
        }
    }
}
