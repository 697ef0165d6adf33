using AiFactory.Agent.Configuration;
using AiFactory.Grpc.Services;
using Microsoft.Extensions.DependencyInjection;

namespace AiFactory.Agent.Profile;

/// <summary>Registers the profile feature in the daemon: one line in Daemon.cs.</summary>
internal static class ProfileRegistration
{
    public static IServiceCollection AddProfile(this IServiceCollection services, AgentOptions options)
    {
        services.AddSingleton(ProfileEnvironment.FromOptions(options));
        services.AddSingleton<ProfileManager>();
        services.AddSingleton<ProfileApiService>();
        services.AddSingleton<ServiceDefinition>(sp => sp.GetRequiredService<ProfileApiService>().Definition());
        services.AddHostedService<ProfileStartup>();
        return services;
    }
}
