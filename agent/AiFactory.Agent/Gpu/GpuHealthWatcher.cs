using System.Globalization;
using AiFactory.Agent.Events;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Gpu;

/// <summary>
/// Watches an NVML event set for XID critical errors, double-bit ECC, SBE storms, DRAM retirement, GPU unavailable and
/// recovery actions. Each event becomes a node event (<c>gpu.xid</c>, <c>gpu.ecc</c>, <c>gpu.unavailable</c>,
/// <c>gpu.recovered</c> ...) with the XID and its class, and sets the GPU's health in <see cref="GpuHealthRegistry"/>, which the lease
/// planner reads (through <see cref="Leases.DaemonLeaseHost"/>), so leases avoid an unhealthy GPU;
/// a recovery action of "none" returns it to service, unless the GPU is ambiguous (<see cref="GpuAmbiguity"/>), which
/// no event ends.
/// </summary>
internal sealed partial class GpuHealthWatcher(GpuNvml nvml, GpuHealthRegistry registry, EventBus bus, ILogger<GpuHealthWatcher> logger) : BackgroundService
{
    private const uint WaitMs = 500;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // No token for StartNew: a stop before the thread starts would make the task canceled, which the host logs as a
        // failed background service; Watch returns at once when the token is already set.
        nvml.Nvml is null ? Task.CompletedTask : Task.Factory.StartNew(() => Watch(nvml.Nvml, stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>The event loop (blocking); public for tests that drive it on their own thread.</summary>
    /// <param name="api">The NVML session.</param>
    /// <param name="stoppingToken">Ends the loop.</param>
    /// <param name="registered">Called once every GPU's events are registered (events before that are not seen).</param>
    internal void Watch(INvml api, CancellationToken stoppingToken, Action? registered = null)
    {
        try
        {
            using NvmlEventSetHandle set = api.CreateEventSet();
            var devices = new Dictionary<nint, (string Uuid, string BusId)>();
            for (uint i = 0; i < api.DeviceCount; i++)
            {
                string busId = "GPU " + i.ToString(CultureInfo.InvariantCulture);
                try
                {
                    // One GPU that cannot be read or registered (lost, ...) is not watched; the others are.
                    NvmlDevice device = api.GetDevice(i);
                    busId = GpuInventory.Address(api, device).ToString();
                    devices[device.Handle] = (api.GetUuid(device), busId);
                    api.RegisterEvents(device, NvmlEventTypes.Health, set);
                }
                catch (NvmlException ex)
                {
                    LogCannotWatch(logger, busId, ex.Message);
                }
            }

            registered?.Invoke();
            bool waitFailing = false;
            while (!stoppingToken.IsCancellationRequested)
            {
                NvmlEvent e;
                bool delivered;
                try
                {
                    delivered = api.WaitForEvent(set, WaitMs, out e);
                    waitFailing = false;
                }
                catch (NvmlException ex) when (ex.Code is NvmlReturn.GpuIsLost or NvmlReturn.Unknown)
                {
                    // nvml.h: the wait answers GPU_IS_LOST "if a GPU has fallen off the bus", without saying which:
                    // ask each one, mark the lost, and keep watching the rest. A pause keeps a wait that keeps
                    // failing at once from spinning.
                    // Logged once per run of failures: a driver that answers so on every wait would otherwise
                    // write this line twice a second for as long as the GPU stays lost (Probe marks it once).
                    if (!waitFailing)
                    {
                        LogWaitFailed(logger, ex.Message);
                        waitFailing = true;
                    }

                    Probe(api, devices);
                    stoppingToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(WaitMs));
                    continue;
                }

                if (delivered && devices.TryGetValue(e.Device.Handle, out var gpu))
                {
                    Handle(gpu.Uuid, gpu.BusId, e);
                }
            }
        }
        catch (NvmlException ex)
        {
            LogWatcherStopped(logger, ex.Message);
        }
    }

    /// <summary>Marks unhealthy (once) each watched GPU NVML cannot reach now; the others are left as they are.</summary>
    private void Probe(INvml api, Dictionary<nint, (string Uuid, string BusId)> devices)
    {
        foreach ((nint handle, (string uuid, string busId)) in devices)
        {
            try
            {
                api.GetPciInfo(new NvmlDevice(handle));
            }
            catch (NvmlException ex) when (ex.Code is NvmlReturn.GpuIsLost or NvmlReturn.Unknown)
            {
                if (registry.Get(uuid).Health == GpuHealth.Unhealthy)
                {
                    continue;
                }

                string reason = "NVML cannot reach it, " + ex.Code.Describe();
                registry.Set(uuid, GpuHealth.Unhealthy, reason, busId);
                string message = $"GPU {busId}: {reason}";
                bus.Publish("gpu.unavailable", EventSeverity.Error, busId, message, new Dictionary<string, string>
                {
                    ["bus_id"] = busId,
                    ["uuid"] = uuid,
                    ["health"] = "unhealthy",
                });
                LogGpuEvent(logger, "gpu.unavailable", busId, message);
            }
        }
    }

    internal void Handle(string uuid, string busId, NvmlEvent e)
    {
        var attributes = new Dictionary<string, string>
        {
            ["bus_id"] = busId,
            ["uuid"] = uuid,
            ["event_type"] = "0x" + e.EventType.ToString("x", CultureInfo.InvariantCulture),
        };
        if (e.GpuInstanceId is uint gi)
        {
            attributes["gpu_instance"] = gi.ToString(CultureInfo.InvariantCulture);
        }

        (string kind, GpuHealth health, string reason) = e.EventType switch
        {
            NvmlEventTypes.XidCriticalError => Xid(e.EventData, attributes),
            NvmlEventTypes.DoubleBitEccError => ("gpu.ecc", GpuHealth.Unhealthy, "double-bit ECC error"),
            NvmlEventTypes.SingleBitEccErrorStorm => ("gpu.ecc", GpuHealth.Degraded, "single-bit ECC error storm"),
            NvmlEventTypes.DramRetirementEvent => ("gpu.retirement", GpuHealth.Degraded, "DRAM page retirement recorded"),
            NvmlEventTypes.DramRetirementFailure => ("gpu.retirement", GpuHealth.Unhealthy, "DRAM page retirement failed"),
            NvmlEventTypes.GpuUnavailableError => ("gpu.unavailable", GpuHealth.Unhealthy, "GPU unavailable"),
            NvmlEventTypes.GpuRecoveryAction when e.EventData == 0 => ("gpu.recovered", GpuHealth.Healthy, string.Empty),
            NvmlEventTypes.GpuRecoveryAction => ("gpu.recovery-action", GpuHealth.Unhealthy, "recovery action needed: " + RecoveryAction(e.EventData)),
            _ => ("gpu.event", registry.Get(uuid).Health, registry.Get(uuid).Reason),
        };

        var previous = registry.Get(uuid);
        // A transient XID does not make a sick GPU healthy; only a recovery does.
        if (kind == "gpu.recovered" || health > previous.Health)
        {
            registry.Set(uuid, health, reason, busId);
        }
        else
        {
            health = previous.Health;
        }

        // A recovery does not end an ambiguity (a UUID or bus id NVML reports for two GPUs): the GPU stays unhealthy.
        (GpuHealth after, string stillWhy) = registry.Get(uuid);
        bool staysOut = kind == "gpu.recovered" && after != GpuHealth.Healthy;
        if (staysOut)
        {
            health = after;
        }

        attributes["health"] = health.ToString().ToLowerInvariant();
        EventSeverity severity = health switch
        {
            GpuHealth.Unhealthy => EventSeverity.Error,
            GpuHealth.Degraded => EventSeverity.Warning,
            _ => EventSeverity.Info,
        };
        string message = staysOut
            ? $"GPU {busId} recovered, but stays out of service: {stillWhy}"
            : kind == "gpu.recovered" ? $"GPU {busId} recovered; back in service" : $"GPU {busId}: {reason}";
        bus.Publish(kind, severity, busId, message, attributes);
        LogGpuEvent(logger, kind, busId, message);
    }

    private static (string, GpuHealth, string) Xid(ulong xid, Dictionary<string, string> attributes)
    {
        (XidClass c, string name) = XidTable.Classify(xid);
        attributes["xid"] = xid.ToString(CultureInfo.InvariantCulture);
        attributes["class"] = c.ToString().ToLowerInvariant();
        return ("gpu.xid", XidTable.HealthAfter(c), $"XID {xid}: {name} ({c.ToString().ToLowerInvariant()})");
    }

    private static string RecoveryAction(ulong action) => action switch
    {
        1 => "GPU reset",
        2 => "node reboot",
        3 => "drain peer-to-peer",
        4 => "drain and reset",
        5 => "recover IMEX domain",
        _ => action.ToString(CultureInfo.InvariantCulture),
    };

    [LoggerMessage(EventId = EventIds.GpuEvent, Level = LogLevel.Warning, Message = "{Kind} on {BusId}: {Message}")]
    private static partial void LogGpuEvent(ILogger logger, string kind, string busId, string message);

    [LoggerMessage(EventId = EventIds.GpuWatchFailed, Level = LogLevel.Warning, Message = "Cannot watch NVML events of {BusId}: {Reason}")]
    private static partial void LogCannotWatch(ILogger logger, string busId, string reason);

    [LoggerMessage(EventId = EventIds.GpuEventWaitFailed, Level = LogLevel.Warning, Message = "Waiting for GPU events failed ({Reason}); probing each GPU and watching on")]
    private static partial void LogWaitFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.GpuWatcherStopped, Level = LogLevel.Error, Message = "GPU health watcher stopped: {Reason}")]
    private static partial void LogWatcherStopped(ILogger logger, string reason);
}
