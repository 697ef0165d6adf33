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
    /// row remapping failed; each one is logged and published once, as the watcher's events are. A GPU whose bus
    /// address NVML cannot give is logged only (there is nothing to avoid it by). Returns the addresses marked.
    /// </summary>
    internal static IReadOnlyList<PciAddress> ReadAtStart(INvml api, GpuHealthRegistry registry, EventBus bus, ILogger logger)
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
                continue;
            }

            (string Uuid, string Kind, string Reason)? sick = Examine(api, device, address);
            if (sick is not { } s)
            {
                continue;
            }

            registry.Set(s.Uuid, GpuHealth.Unhealthy, s.Reason, address.ToString());
            marked.Add(address);
            string message = $"GPU {address} is unhealthy at start-up: {s.Reason}; leases avoid it";
            bus.Publish(s.Kind, EventSeverity.Error, address.ToString(), message, new Dictionary<string, string>
            {
                ["bus_id"] = address.ToString(),
                ["uuid"] = s.Uuid == address.ToString() ? string.Empty : s.Uuid,
                ["health"] = "unhealthy",
                ["at_start"] = "true",
            });
            LogUnhealthyAtStart(logger, address.ToString(), s.Reason);
        }

        return marked;
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
}
