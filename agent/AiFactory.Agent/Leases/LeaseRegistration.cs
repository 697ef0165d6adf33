using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Grpc.Services;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Planning.Profile;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Leases;

/// <summary>Wires the lease feature into the daemon: one call from <c>Daemon.cs</c>.</summary>
internal static partial class LeaseRegistration
{
    /// <summary>
    /// Registers the ledger (loaded, then reconciled, when first resolved — before the gRPC server is built), the
    /// lease service and its <see cref="ServiceDefinition"/>. Sources of facts are taken from the container when
    /// another feature registered them (<see cref="ILeaseHost"/>, <see cref="ILeaseDeviceBinder"/>), else defaults.
    /// </summary>
    public static IServiceCollection AddLeases(this IServiceCollection services, AgentOptions options)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILeaseHost>(sp =>
        {
            Profile.ProfileManager profiles = sp.GetRequiredService<Profile.ProfileManager>();
            bool applies = !sp.GetRequiredService<HostCapabilities>().ReadOnly;
            return new DaemonLeaseHost(
                sp.GetRequiredService<Inventory.InventoryService>(), () => profiles.InForce(applies), sp.GetRequiredService<ILogger<DaemonLeaseHost>>(),
                sp.GetService<Gpu.MigApplier>(), sp.GetService<Gpu.GpuHealthRegistry>(), sp.GetService<Gpu.GpuNvml>(),
                sp.GetService<Profile.ProfileEnvironment>()?.Mig is { } nvmlProcesses ? nvmlProcesses.ReadProcesses : null);
        });
        services.TryAddSingleton<ILeaseDeviceBinder>(sp =>
        {
            HostCapabilities capabilities = sp.GetRequiredService<HostCapabilities>();
            if (capabilities.ReadOnly)
            {
                return new DeferredDeviceBinder("read-only: " + capabilities.ReadOnlyReason);
            }

            Profile.ProfileEnvironment env = sp.GetRequiredService<Profile.ProfileEnvironment>();
            ILeaseDeviceBinder vfio = new VfioLeaseBinder(new Host.Hardware.Vfio.VfioBinder(env.Sysfs, env.SysfsWriter));
            return sp.GetService<Gpu.MigApplier>() is { } mig ? new MigLeaseBinder(vfio, mig) : vfio;
        });
        services.TryAddSingleton<ILibvirt, NativeLibvirt>();
        services.AddSingleton(sp =>
        {
            var ledger = new LeaseLedger(options.StateDir, sp.GetRequiredService<ILogger<LeaseLedger>>(), sp.GetRequiredService<TimeProvider>());
            ledger.Load();
            return ledger;
        });
        services.AddSingleton(sp =>
        {
            var service = new LeaseService(
                sp.GetRequiredService<LeaseLedger>(), sp.GetRequiredService<ILeaseHost>(), sp.GetRequiredService<ILeaseDeviceBinder>(),
                sp.GetRequiredService<ILibvirt>(), sp.GetRequiredService<EventBus>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<LeaseService>>(),
                new LibvirtUris(options.LibvirtUris));
            Reconcile(
                sp.GetRequiredService<LeaseLedger>(), sp.GetRequiredService<ILeaseHost>(), sp.GetRequiredService<EventBus>(), sp.GetRequiredService<ILogger<LeaseService>>(),
                devicesBound: sp.GetRequiredService<ILeaseDeviceBinder>() is not DeferredDeviceBinder,
                readMig: sp.GetService<Gpu.MigApplier>() is { } mig ? mig.Observe : null,
                profile: NodeProfileOf(sp.GetRequiredService<Profile.ProfileManager>().Stored));
            return service;
        });
        services.AddSingleton(sp => sp.GetRequiredService<LeaseService>().Definition());
        services.TryAddSingleton<Gpu.IMigHolds>(sp => sp.GetRequiredService<LeaseLedger>());
        return services;
    }

    /// <summary>
    /// Reports (log + <c>lease.drift</c> event) where the ledger and the machine disagree, and (log +
    /// <c>lease.unchecked</c>) what could not be checked; changes nothing. Returns how many were reported.
    /// </summary>
    /// <param name="devicesBound">True when the vfio binder is active (not deferred): leased devices must be on vfio-pci.</param>
    /// <param name="readMig">Reads MIG from NVML (called only when a holding lease has a MIG instance); null without an NVML layer.</param>
    /// <param name="profile">The node profile the node holds (<see cref="Profile.ProfileManager.Stored"/>); the devices its vfio and sriov
    /// sections bind to vfio-pci are not reported as unleased. Null without a profile (or one that does not parse).</param>
    public static int Reconcile(
        LeaseLedger ledger, ILeaseHost host, EventBus events, ILogger logger, bool devicesBound = false, Func<Gpu.MigObservation>? readMig = null, NodeProfile? profile = null)
    {
        if (ledger.SetAsideNames is { } aside)
        {
            events.Publish("lease.ledger_set_aside", Contracts.Agent.V1.EventSeverity.Error, ledger.Path, ledger.SetAsideKeptCheckpoint
                ? $"the lease journal was unreadable and was moved to {aside}; the agent started with the checkpoint's leases alone (changes after it are lost); grants are refused until {ledger.AcknowledgePath} is deleted"
                : $"the lease ledger was unreadable and was moved to {aside}; the agent started with an empty ledger; grants are refused until {ledger.AcknowledgePath} is deleted");
        }

        IReadOnlyList<Lease> holding = [.. ledger.List(includeEnded: false).Select(e => e.Lease)];
        if (host.Topology is not { } topology)
        {
            return 0;
        }

        // Devices on vfio-pci that no lease holds: after a set-aside they may be a lost lease's, under a running VM;
        // reported even when the ledger is empty. Those the node profile binds there on purpose are not.
        int unleased = 0;
        bool damaged = ledger.Unacknowledged() is not null;
        IReadOnlySet<Host.Model.Pci.PciAddress> profileBound = profile is null ? new HashSet<Host.Model.Pci.PciAddress>() : ProfileVfioDevices.Of(profile, topology);
        foreach (Host.Model.Pci.PciAddress device in LeaseReconciler.Unleased(holding, topology).Where(d => !profileBound.Contains(d)))
        {
            string message = $"device {device} is on vfio-pci but no lease holds it" + (damaged
                ? " (the lease ledger was set aside: it may belong to a lease recorded there, under a running VM)"
                : " and the node profile does not bind it there (an earlier profile or another tool may have)");
            LogUnleased(logger, device.ToString(), message);
            events.Publish("lease.unleased_device", Contracts.Agent.V1.EventSeverity.Warning, device.ToString(), message);
            unleased++;
        }

        if (holding.Count == 0)
        {
            return unleased;
        }

        Gpu.MigObservation? mig = holding.Any(l => l.Plan.Mig is not null) ? readMig?.Invoke() : null;
        IReadOnlyList<LeaseDiscrepancy> drift = LeaseReconciler.Compare(holding, topology, host.HostReservedCpus, devicesBound, mig);
        foreach (LeaseDiscrepancy d in drift)
        {
            if (d.Unchecked)
            {
                LogUnchecked(logger, d.LeaseId, d.Message);
                events.Publish("lease.unchecked", Contracts.Agent.V1.EventSeverity.Warning, d.LeaseId, d.Message);
            }
            else
            {
                LogDrift(logger, d.LeaseId, d.Message);
                events.Publish("lease.drift", Contracts.Agent.V1.EventSeverity.Warning, d.LeaseId, d.Message);
            }
        }

        return drift.Count + unleased;
    }

    /// <summary>
    /// The stored node profile parsed, or null when there is none, it cannot be read or it does not parse (then
    /// nothing is left out of the unleased-device report).
    /// </summary>
    private static NodeProfile? NodeProfileOf(Func<(string Yaml, string Source)?> stored)
    {
        try
        {
            return stored() is { } s ? Profile.ProfileYaml.Parse(s.Yaml) : null;
        }
        catch (Exception ex) when (ex is Profile.ProfileFormatException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = EventIds.LeaseDrift, Level = LogLevel.Warning, Message = "Lease {Id} disagrees with the host (reported, not changed): {Message}")]
    private static partial void LogDrift(ILogger logger, string id, string message);

    [LoggerMessage(EventId = EventIds.LeaseUnleasedDevice, Level = LogLevel.Warning, Message = "Device {Device}: {Message}")]
    private static partial void LogUnleased(ILogger logger, string device, string message);

    [LoggerMessage(EventId = EventIds.LeaseUnchecked, Level = LogLevel.Warning, Message = "Lease {Id} could not be checked against the host: {Message}")]
    private static partial void LogUnchecked(ILogger logger, string id, string message);
}
