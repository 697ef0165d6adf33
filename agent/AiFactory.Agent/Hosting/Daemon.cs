using System.Security.Cryptography.X509Certificates;
using AiFactory.Agent.Api;
using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Agent.Hosting.Systemd;
using AiFactory.Agent.Logging;
using AiFactory.Grpc.Server;
using AiFactory.Grpc.Services;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Hosting;

/// <summary>Composes and runs the daemon: Kestrel listeners, the gRPC services, systemd integration.</summary>
internal static partial class Daemon
{
    /// <summary>Runs until SIGTERM/SIGINT; returns the process exit status.</summary>
    public static int Run(AgentOptions options)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
        });

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        builder.Logging.AddProvider(new StdoutLoggerProvider(Console.Out, StdoutLoggerProvider.StdoutIsJournal(), options.LogLevel));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);

        PrepareSocket(options.Socket);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 256;
            kestrel.ListenUnixSocket(options.Socket, listen => listen.Protocols = HttpProtocols.Http2);
            if (options.Listen is not null && AgentOptionsLoader.TryParseEndpoint(options.Listen, out var endpoint))
            {
                kestrel.Listen(endpoint, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    if (!options.ListenPlaintext)
                    {
                        listen.UseHttps(X509Certificate2.CreateFromPemFile(options.TlsCertificate!, options.TlsKey!));
                    }
                });
            }

            if (options.MetricsListen is not null && AgentOptionsLoader.TryParseEndpoint(options.MetricsListen, out var metrics))
            {
                kestrel.Listen(metrics, listen => listen.Protocols = HttpProtocols.Http1AndHttp2);
            }
        });

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<HostCapabilities>();
        builder.Services.AddSingleton<ISystemdNotifier>(SystemdNotifier.FromEnvironment());
        builder.Services.AddSingleton<EventBus>();
        builder.Services.AddSingleton<HealthService>();
        builder.Services.AddSingleton<AgentApiService>();
        builder.Services.AddSingleton<EventsApiService>();
        builder.Services.AddSingleton(sp => new GrpcServerOptions { MaxReceiveMessageSize = options.MaxMessageSize, MaxSendMessageSize = options.MaxMessageSize });

        // The gRPC services: each feature registers its ServiceDefinition here, one line each.
        builder.Services.AddSingleton(sp => sp.GetRequiredService<HealthService>().Definition());
        builder.Services.AddSingleton(sp => sp.GetRequiredService<AgentApiService>().Definition());
        builder.Services.AddSingleton(sp => sp.GetRequiredService<EventsApiService>().Definition());
        Leases.LeaseRegistration.AddLeases(builder.Services, options);

        builder.Services.AddSingleton<GrpcServer>();
        builder.Services.AddSingleton<RequestRouter>();
        builder.Services.AddHostedService(sp => new SystemdLifetime(
            sp.GetRequiredService<ISystemdNotifier>(),
            sp.GetRequiredService<IHostApplicationLifetime>(),
            sp.GetRequiredService<ILogger<SystemdLifetime>>(),
            () => StatusLine(options, sp.GetRequiredService<HostCapabilities>())));

        WebApplication app = builder.Build();
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AiFactory.Agent.Daemon");
        HostCapabilities capabilities = app.Services.GetRequiredService<HostCapabilities>();
        foreach (HostCapability capability in capabilities.All.Where(c => !c.Available))
        {
            LogCapabilityMissing(logger, capability.Name, capability.Reason);
        }

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            RestrictSocket(options.Socket);
            LogListening(logger, options.Socket, options.Listen ?? "off", options.MetricsListen ?? "off");
        });
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            app.Services.GetRequiredService<HealthService>().SetAllNotServing();
            LogStopping(logger);
        });

        GrpcServer grpc = app.Services.GetRequiredService<GrpcServer>();
        app.Services.GetRequiredService<HealthService>().AddServices(grpc.ServiceNames);
        RequestRouter router = app.Services.GetRequiredService<RequestRouter>();
        app.Run(router.HandleAsync);
        try
        {
            app.Run();
        }
        catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException or null)
        {
            Console.Error.WriteLine($"aifactory-agent: cannot listen: {ex.Message}");
            return 69; // EX_UNAVAILABLE
        }
        finally
        {
            TryDelete(options.Socket);
        }

        return 0;
    }

    private static string StatusLine(AgentOptions options, HostCapabilities capabilities) =>
        $"serving on {options.Socket}" + (options.Listen is null ? string.Empty : $" and {options.Listen}") +
        (capabilities.ReadOnly ? " (read-only)" : string.Empty);

    private static void PrepareSocket(string socket)
    {
        string? dir = Path.GetDirectoryName(socket);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        // A socket file left by a killed process would make bind fail with EADDRINUSE.
        if (File.Exists(socket) && (File.GetAttributes(socket) & FileAttributes.Directory) == 0)
        {
            TryDelete(socket);
        }
    }

    private static void RestrictSocket(string socket)
    {
        try
        {
            File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: the directory's own mode (0750 from tmpfiles) is the real fence.
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    [LoggerMessage(EventId = EventIds.Listening, Level = LogLevel.Information, Message = "Listening: gRPC on unix:{Socket}, TCP {Listen}, metrics {Metrics}")]
    private static partial void LogListening(ILogger logger, string socket, string listen, string metrics);

    [LoggerMessage(EventId = EventIds.Stopping, Level = LogLevel.Information, Message = "Stopping")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(EventId = EventIds.CapabilityMissing, Level = LogLevel.Warning, Message = "Cannot {Capability}: {Reason}")]
    private static partial void LogCapabilityMissing(ILogger logger, string capability, string reason);
}
