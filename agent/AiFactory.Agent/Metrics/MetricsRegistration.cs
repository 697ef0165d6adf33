using AiFactory.Agent.Hosting;
using AiFactory.Agent.Metrics.Collectors;
using AiFactory.Agent.Metrics.Sources;
using AiFactory.Grpc.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Metrics;

/// <summary>The metrics feature's two lines in the daemon: services, then the route and the gRPC hook.</summary>
internal static class MetricsRegistration
{
    /// <summary>
    /// Registers the scraper and its collectors. A collector whose source is not registered (no lease store) is left
    /// out rather than reported failing on every scrape. The GPU source is always registered: without NVML it reads
    /// no GPUs, and the GPU collector reports <c>aifactory_nvml_up 0</c>.
    /// </summary>
    public static IServiceCollection AddAgentMetrics(this IServiceCollection services)
    {
        services.AddSingleton(sp => MetricsOptions.From(sp.GetRequiredService<Configuration.AgentOptions>()));
        services.AddSingleton<AgentMetrics>();
        services.AddSingleton<INodeSnapshotSource>(sp => new InventoryNodeSource(
            sp.GetRequiredService<Inventory.InventoryService>(), sp.GetRequiredService<Configuration.AgentOptions>().SysfsRoot,
            sp.GetService<Leases.ILeaseHost>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger("AiFactory.Agent.Metrics")));
        services.AddSingleton<IGpuTelemetrySource>(sp => new NvmlGpuTelemetrySource(sp.GetRequiredService<Gpu.GpuNvml>(), sp.GetRequiredService<AgentMetrics>()));
        services.AddSingleton(sp =>
        {
            var node = sp.GetService<INodeSnapshotSource>();
            // The lease ledger, when the lease feature is registered (its host-reserved CPUs come with the node).
            ILeaseSource? leases = sp.GetService<ILeaseSource>() ??
                (sp.GetService<Leases.LeaseLedger>() is { } ledger ? new LedgerLeaseSource(ledger) : null);
            var gpus = sp.GetService<IGpuTelemetrySource>();
            var collectors = new List<IMetricsCollector>();
            if (gpus is not null)
            {
                collectors.Add(new GpuCollector(sp.GetRequiredService<MetricsOptions>()));
            }

            if (node is not null)
            {
                collectors.Add(new PciDeviceCollector());
                collectors.Add(new NumaCollector());
            }

            if (leases is not null)
            {
                collectors.Add(new LeaseCollector());
            }

            if (sp.GetService<Hosting.Tls.ClientCertificateRevocationFile>() is { } revocation)
            {
                collectors.Add(new TlsCollector(revocation));
            }

            collectors.Add(new ProcessCollector());
            collectors.Add(new AgentCollector(sp.GetRequiredService<AgentMetrics>(), BuildInfo.Version, BuildInfo.Commit, BuildInfo.Runtime));
            return new MetricsScraper(collectors, node, leases, gpus, sp.GetRequiredService<ILoggerFactory>().CreateLogger("AiFactory.Agent.Metrics"));
        });
        services.AddSingleton<MetricsEndpoint>();
        services.AddHostedService<NodeEventRecorder>();
        return services;
    }

    /// <summary>Serves <c>GET /metrics</c> and records every gRPC call's duration by method and code.</summary>
    public static void MapMetrics(this RequestRouter router, IServiceProvider services)
    {
        router.MapGet("/metrics", services.GetRequiredService<MetricsEndpoint>().HandleAsync);
        AgentMetrics metrics = services.GetRequiredService<AgentMetrics>();
        GrpcServerOptions grpc = services.GetRequiredService<GrpcServerOptions>();
        grpc.CallCompleted += metrics.RecordRpc;
    }
}
