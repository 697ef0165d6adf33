using AiFactory.Agent.Events;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// What NVML says of each GPU's health at start-up, before any health event: events report changes only, so a GPU
/// that was already lost or broken when the agent started would otherwise look healthy to the lease planner until
/// it happened to raise one.
/// </summary>
internal sealed partial class GpuHealthWatcher
{
    /// <summary>
    /// Marks unhealthy, in <paramref name="registry"/> (the set leases avoid), every GPU NVML fails to answer for
    /// (lost, or failing its UUID or ECC query), that has uncorrectable ECC errors since its last reset, or whose
    /// row remapping failed; each one is logged and published once, as the watcher's events are. A GPU that sysfs
    /// (under <paramref name="sysfsRoot"/>) shows bound to the nvidia driver but that NVML gives no handle or bus id
    /// for (nvmlDeviceGetHandleByIndex_v2 answers GPU_IS_LOST for a GPU already lost) is marked by its sysfs address.
    /// Returns the addresses marked.
    /// </summary>
    internal static IReadOnlyList<PciAddress> ReadAtStart(INvml api, string sysfsRoot, GpuHealthRegistry registry, EventBus bus, ILogger logger)
    {
        var marked = new List<PciAddress>();
        uint count;
        try
        {
            count = api.DeviceCount;
        }
        catch (NvmlException ex)
        {
            LogCannotWatch(logger, "any GPU", ex.Message);
            return marked;
        }

        var addressed = new List<PciAddress>();
        var failures = new List<string>();
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
                LogCannotWatch(logger, "GPU " + i.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);
                failures.Add(ex is NvmlException nvmlEx ? nvmlEx.Code.Describe() : ex.Message);
                continue;
            }

            addressed.Add(address);
            if (Examine(api, device, address) is { } s)
            {
                Mark(registry, bus, logger, marked, address, s.Uuid, s.Kind, s.Reason);
            }
        }

        // Two GPUs NVML names alike: a lease or MIG layout addressed by that UUID or bus id could reach the other one.
        IReadOnlyList<GpuIdentities.Identity> identities = GpuIdentities.Read(api);
        // Marked apart from health: no recovery event clears it, only a later read without the duplicate (GpuAmbiguity).
        foreach ((uint index, string why) in GpuIdentities.Duplicates(identities).OrderBy(d => d.Key))
        {
            GpuIdentities.Identity gpu = identities.First(g => g.Index == index);
            string reason = why + "; neither is partitioned or leased";
            registry.MarkAmbiguous(gpu, reason);
            Mark(registry, bus, logger, marked, gpu.Address, gpu.Uuid, "gpu.ambiguous", reason, setHealth: false);
        }

        // What the indices NVML could not answer for are: the nvidia-bound GPUs of sysfs it gave no address for.
        foreach (PciAddress address in NvidiaSysfsGpus.Unaccounted(NvidiaSysfsGpus.Read(sysfsRoot), addressed))
        {
            string reason = failures.Count == 1
                ? "NVML cannot read it, " + failures[0]
                : failures.Count == 0
                    ? "bound to the nvidia driver but NVML does not list it"
                    : "bound to the nvidia driver but NVML gives no handle for it (" + string.Join("; ", failures.Distinct()) + ")";
            Mark(registry, bus, logger, marked, address, address.ToString(), "gpu.unavailable", reason);
        }

        return marked;
    }

    private static void Mark(GpuHealthRegistry registry, EventBus bus, ILogger logger, List<PciAddress> marked, PciAddress address, string uuid, string kind, string reason, bool setHealth = true)
    {
        if (setHealth)
        {
            registry.Set(uuid, GpuHealth.Unhealthy, reason, address.ToString());
        }

        marked.Add(address);
        string message = $"GPU {address} is unhealthy at start-up: {reason}; leases avoid it";
        bus.Publish(kind, EventSeverity.Error, address.ToString(), message, new Dictionary<string, string>
        {
            ["bus_id"] = address.ToString(),
            ["uuid"] = uuid == address.ToString() ? string.Empty : uuid,
            ["health"] = "unhealthy",
            ["at_start"] = "true",
        });
        if (setHealth)
        {
            LogUnhealthyAtStart(logger, address.ToString(), reason);
        }
        else
        {
            LogAmbiguousAtStart(logger, address.ToString(), reason);
        }
    }

    /// <summary>Why the GPU is unhealthy now, or null; a GPU without a UUID is keyed by its address.</summary>
    private static (string Uuid, string Kind, string Reason)? Examine(INvml api, NvmlDevice device, PciAddress address)
    {
        string uuid;
        try
        {
            uuid = api.GetUuid(device);
        }
        catch (NvmlException ex)
        {
            return (address.ToString(), "gpu.unavailable", "NVML cannot read it, " + ex.Code.Describe());
        }

        try
        {
            ulong uncorrected = api.GetTotalEccErrors(device, uncorrected: true, aggregate: false);
            if (uncorrected > 0)
            {
                return (uuid, "gpu.ecc", $"{uncorrected} uncorrectable ECC error(s) since its last reset");
            }
        }
        catch (NvmlException ex) when (ex.Code is not (NvmlReturn.NotSupported or NvmlReturn.FunctionNotFound))
        {
            return (uuid, "gpu.unavailable", "NVML cannot read its ECC errors, " + ex.Code.Describe());
        }
        catch (NvmlException)
        {
            // No ECC on this GPU (a workstation board): nothing to say.
        }

        try
        {
            if (api.GetRemappedRows(device) is { Failure: true })
            {
                return (uuid, "gpu.retirement", "row remapping failed");
            }
        }
        catch (NvmlException ex) when (ex.Code is not NvmlReturn.FunctionNotFound)
        {
            return (uuid, "gpu.unavailable", "NVML cannot read its remapped rows, " + ex.Code.Describe());
        }
        catch (NvmlException)
        {
            // An older driver without the call.
        }

        return null;
    }

    [LoggerMessage(EventId = EventIds.GpuUnhealthyAtStart, Level = LogLevel.Warning, Message = "GPU {BusId} is unhealthy at start-up: {Reason}; leases avoid it until a recovery event")]
    private static partial void LogUnhealthyAtStart(ILogger logger, string busId, string reason);

    [LoggerMessage(EventId = EventIds.GpuUnhealthyAtStart, Level = LogLevel.Warning, Message = "GPU {BusId} is unhealthy at start-up: {Reason}; leases avoid it until NVML no longer reports the duplicate (no recovery event clears it)")]
    private static partial void LogAmbiguousAtStart(ILogger logger, string busId, string reason);
}
