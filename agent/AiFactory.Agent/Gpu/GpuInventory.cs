using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// Reads every GPU NVML sees into <see cref="GpuInfo"/>, joined to the sysfs PCI device by bus id. Each read of
/// NVML's GPUs after start (the list, <see cref="Resolve"/>, <see cref="ReviewIdentities"/>) checks them again for a
/// UUID or bus id two report, through <paramref name="ambiguity"/> (the daemon's; absent in the offline command).
/// </summary>
internal sealed class GpuInventory(GpuNvml nvml, GpuHealthRegistry registry, GpuAmbiguity? ambiguity = null)
{
    /// <summary>
    /// Every GPU NVML counts, one row each: a GPU NVML fails on (lost, ...) is a row that says why, marked unhealthy,
    /// and the others are read as usual. The row of a GPU NVML gives no handle or bus id for carries the address of
    /// the one nvidia-bound sysfs GPU NVML accounts for no other way, when exactly one is left (and no address
    /// otherwise: NVML's index order is not the bus order).
    /// </summary>
    public IReadOnlyList<GpuInfo> Read(bool includeSerial)
    {
        INvml api = nvml.Require();
        if (ambiguity is not null)
        {
            ReviewIdentities(api); // first, so that each row's health says what the check found
        }

        uint count = api.DeviceCount;
        var result = new List<GpuInfo>((int)count);
        var unaddressed = new List<int>();
        for (uint i = 0; i < count; i++)
        {
            NvmlDevice device;
            PciAddress address;
            try
            {
                device = api.GetDevice(i);
                address = Address(api, device);
            }
            catch (Exception ex) when (ex is NvmlException or FormatException)
            {
                unaddressed.Add(result.Count);
                result.Add(Failed(i, null, ex));
                continue;
            }

            try
            {
                result.Add(ReadOne(api, i, device, address, includeSerial));
            }
            catch (Exception ex) when (ex is NvmlException or FormatException)
            {
                result.Add(Failed(i, address, ex) with { InSysfs = InSysfs(address) });
            }
        }

        if (unaddressed.Count == 1)
        {
            IEnumerable<PciAddress> addressed = result.Where((_, row) => row != unaddressed[0]).Select(g => g.Address);
            if (NvidiaSysfsGpus.Unaccounted(NvidiaSysfsGpus.Read(nvml.SysfsRoot), addressed) is [PciAddress only])
            {
                result[unaddressed[0]] = result[unaddressed[0]] with { Address = only, InSysfs = true };
            }
        }

        return result;
    }

    /// <summary>
    /// Finds a GPU to change (MIG layout, MIG lease) by index, bus id (either form) or UUID; a GPU whose UUID or bus
    /// id NVML also reports for another is refused (<see cref="MigRefusedException"/>), naming both.
    /// </summary>
    public (NvmlDevice Device, PciAddress Address, string Uuid) Resolve(string selector)
    {
        (NvmlDevice device, PciAddress address, string uuid, uint index) = Find(selector);
        GpuIdentities.RefuseIfAmbiguous(ReviewIdentities(nvml.Require()), index, address, uuid);
        return (device, address, uuid);
    }

    /// <summary>
    /// Reads every GPU's UUID and bus id (<see cref="GpuIdentities.Read"/>), marks or clears ambiguous GPUs in the
    /// health registry (<see cref="GpuAmbiguity.Review"/>, when this inventory has the check), and returns the
    /// ambiguous ones with why, by NVML index.
    /// </summary>
    public IReadOnlyDictionary<uint, string> ReviewIdentities(INvml api)
    {
        IReadOnlyList<GpuIdentities.Identity> seen = GpuIdentities.Read(api, out uint count);
        ambiguity?.Review(seen, complete: seen.Count == count);
        return GpuIdentities.Duplicates(seen);
    }

    private (NvmlDevice Device, PciAddress Address, string Uuid, uint Index) Find(string selector)
    {
        INvml api = nvml.Require();
        uint count = api.DeviceCount;
        bool byIndex = uint.TryParse(selector, out uint index);
        PciAddress.TryParse(selector, out PciAddress wantedAddress);
        for (uint i = 0; i < count; i++)
        {
            NvmlDevice device;
            PciAddress address;
            try
            {
                device = api.GetDevice(i);
                address = Address(api, device);
            }
            catch (NvmlException) when (!(byIndex && i == index))
            {
                continue; // another GPU NVML cannot reach (lost, ...) does not hide the one asked for
            }

            if ((byIndex && i == index) || address == wantedAddress || string.Equals(address.ToNvmlBusId(), selector, StringComparison.OrdinalIgnoreCase))
            {
                return (device, address, api.GetUuid(device), i);
            }

            if (!byIndex && selector.StartsWith("GPU-", StringComparison.OrdinalIgnoreCase))
            {
                string uuid = api.GetUuid(device);
                if (string.Equals(uuid, selector, StringComparison.OrdinalIgnoreCase))
                {
                    return (device, address, uuid, i);
                }
            }
        }

        throw new KeyNotFoundException($"no GPU {selector} (there are {count}: give an index 0-{(int)count - 1}, a bus id or a UUID)");
    }

    public static PciAddress Address(INvml api, NvmlDevice device)
    {
        string busId = api.GetPciInfo(device).BusId;
        return PciAddress.TryParseNvmlBusId(busId, out PciAddress address) || PciAddress.TryParse(busId, out address)
            ? address
            : throw new FormatException($"NVML bus id \"{busId}\" is not a PCI address");
    }

    /// <summary>The row of a GPU NVML fails on: unhealthy, with the error as the reason.</summary>
    private static GpuInfo Failed(uint index, PciAddress? address, Exception ex) => new()
    {
        Index = index,
        Address = address ?? default,
        Uuid = string.Empty,
        Name = string.Empty,
        Health = GpuHealth.Unhealthy,
        HealthReason = ex is NvmlException n ? $"{n.Function}: {n.Code.Describe()}" : ex.Message,
    };

    private GpuInfo ReadOne(INvml api, uint index, NvmlDevice device, PciAddress address, bool includeSerial)
    {
        bool inSysfs = InSysfs(address);
        string uuid;
        try
        {
            uuid = api.GetUuid(device);
        }
        catch (NvmlException ex) when (ex.Code == NvmlReturn.GpuIsLost)
        {
            // The GPU fell off the bus: report what sysfs and the bus id still say.
            return new GpuInfo
            {
                Index = index, Address = address, Uuid = string.Empty, Name = string.Empty, InSysfs = inSysfs,
                Health = GpuHealth.Unhealthy, HealthReason = ex.Code.Describe(),
            };
        }

        NvmlMemory? memory = Optional(() => (NvmlMemory?)api.GetMemory(device)); // unknown (0) where NOT_SUPPORTED
        (bool Current, bool Pending)? mig = api.GetMigMode(device);
        NvmlRemappedRows? rows = Optional(() => api.GetRemappedRows(device));
        NvmlFabricInfo? fabric = Optional(() => api.GetFabricInfo(device));
        var links = Optional(() => api.GetNvLinks(device)) ?? [];
        (GpuHealth health, string reason) = registry.Get(uuid);
        bool retired = Optional(() => api.GetRetiredPagesPending(device)) ?? false;
        if (health == GpuHealth.Healthy && (retired || rows?.Pending == true))
        {
            (health, reason) = (GpuHealth.Degraded, retired ? "retired pages pending (reset to retire them)" : "row remapping pending (reset to remap)");
        }

        return new GpuInfo
        {
            Index = index,
            Address = address,
            Uuid = uuid,
            Name = api.GetName(device),
            Serial = includeSerial ? Optional(() => api.GetSerial(device)) : null,
            PciDeviceId = api.GetPciInfo(device).PciDeviceId,
            MemoryTotalBytes = memory?.Total ?? 0,
            MemoryUsedBytes = memory?.Used ?? 0,
            PersistenceMode = Optional(() => (bool?)api.GetPersistenceMode(device)) ?? false,
            MigEnabled = mig?.Current,
            MigPending = mig?.Pending,
            VirtualizationMode = Optional(() => (int?)api.GetVirtualizationMode(device)) ?? 0,
            NumaNode = api.GetNumaNode(device),
            CpuAffinity = Optional(() => api.GetCpuAffinity(device)) is { } cpus ? CpuSet.Of(cpus).ToString() : string.Empty,
            NvLinks = [.. links.Select((l, i) => new GpuNvLink((uint)i, l.Active, NormalizeBusId(l.RemoteBusId)))],
            Fabric = fabric is null ? null : Fabric(fabric),
            EccCorrectedTotal = Optional(() => (ulong?)api.GetTotalEccErrors(device, uncorrected: false, aggregate: true)) ?? 0,
            EccUncorrectedTotal = Optional(() => (ulong?)api.GetTotalEccErrors(device, uncorrected: true, aggregate: true)) ?? 0,
            RemappedRowsCorrectable = rows?.Correctable ?? 0,
            RemappedRowsUncorrectable = rows?.Uncorrectable ?? 0,
            RemappedRowsPending = rows?.Pending ?? false,
            RetiredPagesPending = retired,
            Health = health,
            HealthReason = reason,
            InSysfs = inSysfs,
        };
    }

    private static string? NormalizeBusId(string? busId) =>
        busId is not null && PciAddress.TryParseNvmlBusId(busId, out PciAddress a) ? a.ToString() : busId;

    /// <summary>
    /// The fabric as NVML reports it. The cluster UUID and clique id mean something only once the registration completed
    /// (nvml.h: status "must be checked only if state returns complete"); before that, and where the fabric is not
    /// supported (a PCIe or passed-through H100 answers SUCCESS with state NOT_SUPPORTED), they are zeros: left out.
    /// </summary>
    private static GpuFabric Fabric(NvmlFabricInfo f)
    {
        const uint Completed = 3;
        bool completed = f.State == Completed;
        bool registered = completed && f.Status == NvmlReturn.Success;
        return new GpuFabric(registered ? f.ClusterUuid : null, registered ? f.CliqueId : null, FabricState(f.State), completed ? f.Status.CName() : null);
    }

    private static string FabricState(uint state) => state switch
    {
        0 => "not-supported",
        1 => "not-started",
        2 => "in-progress",
        3 => "completed",
        _ => state.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Optional attributes: NOT_SUPPORTED (and friends) read as "absent", not as a failure.</summary>
    private static T? Optional<T>(Func<T?> read)
    {
        try
        {
            return read();
        }
        catch (NvmlException ex) when (ex.Code is NvmlReturn.NotSupported or NvmlReturn.NoPermission or NvmlReturn.FunctionNotFound)
        {
            return default;
        }
    }

    private bool InSysfs(PciAddress address) => Directory.Exists(Path.Combine(nvml.SysfsRoot, "bus/pci/devices", address.ToString()));
}
