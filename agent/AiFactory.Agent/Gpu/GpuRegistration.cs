using AiFactory.Agent.Events;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Gpu;

/// <summary>The GPU feature's services, added to the daemon with one line.</summary>
internal static class GpuRegistration
{
    public static void Add(IServiceCollection services)
    {
        services.AddSingleton<GpuNvml>();
        services.AddSingleton(HealthAtStart);
        services.AddSingleton<GpuAmbiguity>();
        services.AddSingleton<GpuInventory>();
        services.AddSingleton<MigApplier>();
        services.AddSingleton<GpuApiService>();
        services.AddSingleton(sp => sp.GetRequiredService<GpuApiService>().Definition());
        services.AddHostedService<GpuHealthWatcher>();
    }

    /// <summary>
    /// The health registry, holding from its first use what NVML says of each GPU now (lost, failing, uncorrectable
    /// ECC errors): the lease planner avoids a GPU that was already broken when the agent started, before any event.
    /// </summary>
    internal static GpuHealthRegistry HealthAtStart(IServiceProvider services)
    {
        var registry = new GpuHealthRegistry();
        GpuNvml nvml = services.GetRequiredService<GpuNvml>();
        if (nvml.Nvml is { } api)
        {
            GpuHealthWatcher.ReadAtStart(api, nvml.SysfsRoot, registry, services.GetRequiredService<EventBus>(), services.GetRequiredService<ILogger<GpuHealthWatcher>>());
        }

        return registry;
    }
}
