using System.Globalization;
using AiFactory.Agent.Gpu;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Profile;

/// <summary>
/// The profile's MIG through the agent's NVML layer: reads each GPU's mode, profile table, instances and processes
/// for the planner, and runs MIG steps through <see cref="MigApplier"/> (explicit placements, read back, a reset of
/// only the GPU concerned). Every NVML failure becomes a <see cref="MigStepException"/> naming the GPU.
/// </summary>
internal sealed class ProfileMig(GpuNvml nvml, GpuInventory inventory, MigApplier applier, string procfsRoot) : IMigControl
{
    private int _writes;

    // What this process's Create calls did at each spot (GPU, profile, placement): the GPU instance id it made, or
    // null where the create failed. A Destroy there (a rollback's inverse) then removes only that instance, and
    // nothing where nothing was created: never an instance another party made at the same spot meanwhile.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(PciAddress Gpu, string Profile, MigPlacement Placement), uint?> _createdHere = new();

    public int WriteCount => Volatile.Read(ref _writes);

    /// <summary>
    /// Every GPU NVML sees with its MIG state; each GPU is read on its own, so one NVML fails on (lost, a query
    /// failing) is reported in <c>Unreadable</c> with the error, and the others are read as usual. A GPU NVML gives no
    /// handle or bus id for carries the address of the one nvidia-bound sysfs GPU NVML accounts for no other way, when
    /// exactly one is left (as in <see cref="GpuInventory.Read"/>). <c>Unavailable</c> says why none can be read (no
    /// NVML, or it cannot count GPUs).
    /// </summary>
    public (IReadOnlyList<MigGpuState> Gpus, IReadOnlyList<MigGpuUnreadable> Unreadable, string? Unavailable) Read()
    {
        // A new plan starts from what is there now: what an earlier apply created is no longer this one's to undo.
        _createdHere.Clear();
        if (nvml.Nvml is not INvml api)
        {
            return ([], [], $"NVML is not available ({nvml.Error})");
        }

        uint count;
        try
        {
            count = api.DeviceCount;
        }
        catch (NvmlException ex)
        {
            return ([], [], $"NVML cannot count GPUs ({ex.Message})");
        }

        var result = new List<MigGpuState>();
        var unreadable = new List<MigGpuUnreadable>();
        for (uint i = 0; i < count; i++)
        {
            PciAddress? address = null;
            try
            {
                NvmlDevice device = api.GetDevice(i);
                address = GpuInventory.Address(api, device);
                uint deviceId = api.GetPciInfo(device).PciDeviceId;
                (bool Current, bool Pending)? mode = api.GetMigMode(device);
                MigProfileTable table = mode is null ? new MigProfileTable([]) : MigReader.ReadProfiles(api, device);
                IReadOnlyList<MigInstance> instances = mode is (true, _) ? MigReader.ReadInstances(api, device, table) : [];
                result.Add(new MigGpuState((int)i, address.Value, deviceId, mode is not null, mode?.Current ?? false, mode?.Pending ?? false, table, instances, Processes(api, device)));
            }
            catch (Exception ex) when (ex is NvmlException or FormatException)
            {
                unreadable.Add(new MigGpuUnreadable((int)i, address, ex.Message));
            }
        }

        if (unreadable.Count(u => u.Address is null) == 1)
        {
            // Which sysfs GPU an index without a handle is, only sysfs can say: the one nvidia-bound GPU NVML named no other way.
            IEnumerable<PciAddress> addressed = result.Select(g => g.Address).Concat(unreadable.Where(u => u.Address is not null).Select(u => u.Address!.Value));
            if (NvidiaSysfsGpus.Unaccounted(NvidiaSysfsGpus.Read(nvml.SysfsRoot), addressed) is [PciAddress only])
            {
                int row = unreadable.FindIndex(u => u.Address is null);
                unreadable[row] = unreadable[row] with { Address = only };
            }
        }

        return (result, unreadable, null);
    }

    /// <summary>
    /// The compute processes on each GPU NVML sees that has any ("PID 4242 (python3)"), or why NVML cannot be asked:
    /// a GPU the vfio section would unbind is refused while it runs some.
    /// </summary>
    public (IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> Processes, string? Unavailable) ReadProcesses()
    {
        if (nvml.Nvml is not INvml api)
        {
            return (new Dictionary<PciAddress, IReadOnlyList<string>>(), $"NVML is not available ({nvml.Error})");
        }

        try
        {
            var result = new Dictionary<PciAddress, IReadOnlyList<string>>();
            uint count = api.DeviceCount;
            for (uint i = 0; i < count; i++)
            {
                NvmlDevice device = api.GetDevice(i);
                List<string> processes = Processes(api, device);
                if (processes.Count > 0)
                {
                    result[GpuInventory.Address(api, device)] = processes;
                }
            }

            return (result, null);
        }
        catch (NvmlException ex)
        {
            return (new Dictionary<PciAddress, IReadOnlyList<string>>(), ex.Message);
        }
    }

    /// <summary>The GPU instances leases hold (from the lease ledger): the profile's layouts are planned around them.</summary>
    public IReadOnlyList<MigHold> Held() => applier.Held();

    public string SetMode(PciAddress gpu, bool enabled)
    {
        return Guard(gpu, () =>
        {
            INvml api = nvml.Require();
            NvmlDevice device = inventory.Resolve(gpu.ToString()).Device;
            if (api.GetMigMode(device) is (bool c, bool p) && c == enabled && p == enabled)
            {
                return $"{gpu} MIG mode already {(enabled ? "enabled" : "disabled")}";
            }

            RefuseWhileUsed(api, device, gpu);
            Interlocked.Increment(ref _writes);
            MigModeResult result = applier.SetMode(gpu.ToString(), enabled, reset: true, resetAllowed: true);
            (bool current, _) = api.GetMigMode(device) ?? (false, false);
            if (current != enabled)
            {
                throw new MigStepException($"{gpu}: asked for MIG mode {(enabled ? "enabled" : "disabled")}, NVML reads back {(current ? "enabled" : "disabled")} ({result.Message})");
            }

            return result.Message;
        });
    }

    public string Create(PciAddress gpu, string profile, MigPlacement placement, MigComputeLayout? compute = null)
    {
        return Guard(gpu, () =>
        {
            if (Find(gpu, profile, placement) is { IsOrphaned: false } there)
            {
                // Asserted first: a rollback retried by a recovery finds its instance there only when it is exact.
                if (compute is null || MigComputeLayout.Of(there).SameAs(compute))
                {
                    return $"{profile}@{placement} already on {gpu}";
                }

                throw new MigStepException($"{gpu}: {profile}@{placement} is there (GPU instance {there.GpuInstanceId}) with compute instances [{MigComputeLayout.Of(there)}], not the [{compute}] it had; it is left alone");
            }

            Interlocked.Increment(ref _writes);
            var spot = (gpu, profile.ToLowerInvariant(), placement);
            MigInstance made;
            try
            {
                made = applier.CreateAt(gpu.ToString(), profile, placement.Start, placement.Size, compute);
            }
            catch
            {
                _createdHere[spot] = null;
                throw;
            }

            _createdHere[spot] = made.GpuInstanceId;
            return compute is null
                ? $"created {made.Profile}@{made.Placement} on {gpu} (GPU instance {made.GpuInstanceId})"
                : $"created {made.Profile}@{made.Placement} on {gpu} (GPU instance {made.GpuInstanceId}) with compute instances [{MigComputeLayout.Of(made)}]";
        });
    }

    public string Destroy(PciAddress gpu, string profile, MigPlacement placement)
    {
        return Guard(gpu, () =>
        {
            uint? onlyId = null;
            if (_createdHere.TryRemove((gpu, profile.ToLowerInvariant(), placement), out uint? madeHere))
            {
                if (madeHere is not uint id)
                {
                    return $"nothing to destroy: creating {profile}@{placement} on {gpu} failed, so nothing was created there";
                }

                onlyId = id;
            }

            if (Find(gpu, profile, placement) is not { } there)
            {
                return $"no {profile}@{placement} on {gpu}";
            }

            if (onlyId is uint own && there.GpuInstanceId != own)
            {
                throw new MigStepException($"{gpu}: {profile}@{placement} is now GPU instance {there.GpuInstanceId}, not the GPU instance {own} this agent created there; it is left alone");
            }

            INvml api = nvml.Require();
            RefuseWhileUsed(api, inventory.Resolve(gpu.ToString()).Device, gpu);
            Interlocked.Increment(ref _writes);
            applier.DestroyAt(gpu.ToString(), profile, placement.Start, gpuInstanceId: onlyId);
            return $"destroyed {profile}@{placement} on {gpu}";
        });
    }

    private MigInstance? Find(PciAddress gpu, string profile, MigPlacement placement)
    {
        INvml api = nvml.Require();
        NvmlDevice device = inventory.Resolve(gpu.ToString()).Device;
        if (api.GetMigMode(device) is not (true, _))
        {
            return null;
        }

        MigProfileTable table = MigReader.ReadProfiles(api, device);
        return MigReader.ReadInstances(api, device, table)
            .FirstOrDefault(i => i.Placement == placement && string.Equals(i.Profile, profile, StringComparison.OrdinalIgnoreCase));
    }

    private void RefuseWhileUsed(INvml api, NvmlDevice device, PciAddress gpu)
    {
        IReadOnlyList<string> processes = Processes(api, device);
        if (processes.Count > 0)
        {
            throw new MigStepException($"{gpu} is in use by {string.Join(", ", processes)}: stop them before its MIG layout changes");
        }
    }

    /// <summary>"PID 4242 (python3)", the name from procfs <c>&lt;pid&gt;/comm</c> when it can be read.</summary>
    private List<string> Processes(INvml api, NvmlDevice device)
    {
        var names = new List<string>();
        foreach (NvmlProcess p in api.GetComputeProcesses(device))
        {
            string pid = p.Pid.ToString(CultureInfo.InvariantCulture);
            string comm = Path.Join(procfsRoot, pid, "comm");
            string? name = null;
            try
            {
                // comm is at most 16 bytes; read bounded and never blocking (a fixture's procfs is only files).
                name = BoundedFile.ReadBytes(comm, 64) is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes).Trim() : null;
            }
            catch (IOException)
            {
                // The process ended between the NVML call and this read: the PID alone names it.
            }

            names.Add(name is { Length: > 0 } ? $"PID {pid} ({name})" : $"PID {pid}");
        }

        return names;
    }

    private static string Guard(PciAddress gpu, Func<string> step)
    {
        try
        {
            return step();
        }
        catch (Exception ex) when (ex is NvmlException or MigRefusedException or InvalidOperationException or KeyNotFoundException)
        {
            throw new MigStepException($"{gpu}: {ex.Message}", ex);
        }
    }
}
