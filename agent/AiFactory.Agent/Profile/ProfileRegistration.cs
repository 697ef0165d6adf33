using AiFactory.Agent.Configuration;
using AiFactory.Agent.Gpu;
using AiFactory.Grpc.Services;
using Microsoft.Extensions.DependencyInjection;

namespace AiFactory.Agent.Profile;

/// <summary>Registers the profile feature in the daemon: one line in Daemon.cs.</summary>
internal static class ProfileRegistration
{
    public static IServiceCollection AddProfile(this IServiceCollection services, AgentOptions options)
    {
        services.AddSingleton(sp => ProfileEnvironment.FromOptions(options) with
        {
            Mig = new ProfileMig(sp.GetRequiredService<GpuNvml>(), sp.GetRequiredService<GpuInventory>(), sp.GetRequiredService<MigApplier>(), options.ProcfsRoot),
            Leases = sp.GetService<Leases.LeaseLedger>(),
        });
        services.AddSingleton<ProfileManager>();
        services.AddSingleton<ProfileApiService>();
        services.AddSingleton<ServiceDefinition>(sp => sp.GetRequiredService<ProfileApiService>().Definition());
        services.AddHostedService<ProfileStartup>();
        return services;
    }
}
