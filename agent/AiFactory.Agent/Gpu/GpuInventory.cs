using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;

namespace AiFactory.Agent.Gpu;

/// <summary>Reads every GPU NVML sees into <see cref="GpuInfo"/>, joined to the sysfs PCI device by bus id.</summary>
internal sealed class GpuInventory(GpuNvml nvml, GpuHealthRegistry registry)
{
    public IReadOnlyList<GpuInfo> Read(bool includeSerial)
    {
        INvml api = nvml.Require();
        uint count = api.DeviceCount;
        var result = new List<GpuInfo>((int)count);
        for (uint i = 0; i < count; i++)
        {
            result.Add(ReadOne(api, i, includeSerial));
        }

        return result;
    }

    /// <summary>Finds a GPU by index, bus id (either form) or UUID.</summary>
    public (NvmlDevice Device, PciAddress Address, string Uuid) Resolve(string selector)
    {
        INvml api = nvml.Require();
        uint count = api.DeviceCount;
        bool byIndex = uint.TryParse(selector, out uint index);
        PciAddress.TryParse(selector, out PciAddress wantedAddress);
        for (uint i = 0; i < count; i++)
        {
            NvmlDevice device = api.GetDevice(i);
            PciAddress address = Address(api, device);
            if ((byIndex && i == index) || address == wantedAddress || string.Equals(address.ToNvmlBusId(), selector, StringComparison.OrdinalIgnoreCase))
            {
                return (device, address, api.GetUuid(device));
            }

            if (!byIndex && selector.StartsWith("GPU-", StringComparison.OrdinalIgnoreCase))
            {
                string uuid = api.GetUuid(device);
                if (string.Equals(uuid, selector, StringComparison.OrdinalIgnoreCase))
                {
                    return (device, address, uuid);
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

    private GpuInfo ReadOne(INvml api, uint index, bool includeSerial)
    {
        NvmlDevice device = api.GetDevice(index);
        PciAddress address = Address(api, device);
        bool inSysfs = Directory.Exists(Path.Combine(nvml.SysfsRoot, "bus/pci/devices", address.ToString()));
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

        NvmlMemory memory = api.GetMemory(device);
        (bool Current, bool Pending)? mig = api.GetMigMode(device);
        NvmlRemappedRows? rows = Optional(() => api.GetRemappedRows(device));
        NvmlFabricInfo? fabric = Optional(() => api.GetFabricInfo(device));
        var links = api.GetNvLinks(device);
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
            MemoryTotalBytes = memory.Total,
            MemoryUsedBytes = memory.Used,
            PersistenceMode = Optional(() => (bool?)api.GetPersistenceMode(device)) ?? false,
            MigEnabled = mig?.Current,
            MigPending = mig?.Pending,
            VirtualizationMode = Optional(() => (int?)api.GetVirtualizationMode(device)) ?? 0,
            NumaNode = api.GetNumaNode(device),
            CpuAffinity = CpuSet.Of(api.GetCpuAffinity(device)).ToString(),
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
}
