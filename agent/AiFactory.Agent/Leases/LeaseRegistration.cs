using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Grpc.Services;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Leases;
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
        services.TryAddSingleton<ILeaseHost>(sp => new DaemonLeaseHost(
            sp.GetRequiredService<Inventory.InventoryService>(), sp.GetRequiredService<Profile.ProfileManager>(), sp.GetRequiredService<ILogger<DaemonLeaseHost>>(),
            sp.GetService<Gpu.MigApplier>(), sp.GetService<Gpu.GpuHealthRegistry>(), sp.GetService<Gpu.GpuNvml>()));
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
                sp.GetRequiredService<ILibvirt>(), sp.GetRequiredService<EventBus>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<LeaseService>>());
            Reconcile(sp.GetRequiredService<LeaseLedger>(), sp.GetRequiredService<ILeaseHost>(), sp.GetRequiredService<EventBus>(), sp.GetRequiredService<ILogger<LeaseService>>());
            return service;
        });
        services.AddSingleton(sp => sp.GetRequiredService<LeaseService>().Definition());
        return services;
    }

    /// <summary>Reports (log + <c>lease.drift</c> event) where the ledger and the machine disagree; changes nothing.</summary>
    public static int Reconcile(LeaseLedger ledger, ILeaseHost host, EventBus events, ILogger logger)
    {
        if (ledger.SetAsidePath is { } aside)
        {
            events.Publish("lease.ledger_set_aside", Contracts.Agent.V1.EventSeverity.Error, ledger.Path,
                $"the lease ledger was unreadable and was moved to {aside}; the agent started with an empty ledger");
        }

        // Only a ledger that holds something needs the topology (which may still be being discovered).
        IReadOnlyList<Lease> holding = [.. ledger.List(includeEnded: false).Select(e => e.Lease)];
        if (holding.Count == 0 || host.Topology is not { } topology)
        {
            return 0;
        }

        IReadOnlyList<(string LeaseId, string Message)> drift = LeaseReconciler.Compare(holding, topology, host.HostReservedCpus);
        foreach ((string id, string message) in drift)
        {
            LogDrift(logger, id, message);
            events.Publish("lease.drift", Contracts.Agent.V1.EventSeverity.Warning, id, message);
        }

        return drift.Count;
    }

    [LoggerMessage(EventId = EventIds.LeaseDrift, Level = LogLevel.Warning, Message = "Lease {Id} disagrees with the host (reported, not changed): {Message}")]
    private static partial void LogDrift(ILogger logger, string id, string message);
}
