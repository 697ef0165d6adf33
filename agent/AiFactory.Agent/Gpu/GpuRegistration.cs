using Microsoft.Extensions.DependencyInjection;

namespace AiFactory.Agent.Gpu;

/// <summary>The GPU feature's services, added to the daemon with one line.</summary>
internal static class GpuRegistration
{
    public static void Add(IServiceCollection services)
    {
        services.AddSingleton<GpuNvml>();
        services.AddSingleton<GpuHealthRegistry>();
        services.AddSingleton<GpuInventory>();
        services.AddSingleton<MigApplier>();
        services.AddSingleton<GpuApiService>();
        services.AddSingleton(sp => sp.GetRequiredService<GpuApiService>().Definition());
        services.AddHostedService<GpuHealthWatcher>();
    }
}
