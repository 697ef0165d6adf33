using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using AiFactory.Agent.Api;
using AiFactory.Agent.Configuration;
using AiFactory.Agent.Events;
using AiFactory.Agent.Hosting.Systemd;
using AiFactory.Agent.Logging;
using AiFactory.Agent.Metrics;
using AiFactory.Grpc.Server;
using AiFactory.Grpc.Services;
using AiFactory.Host.Hardware.Files;
using AiFactory.Host.Hardware.Procfs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AiFactory.Agent.Hosting;

/// <summary>Composes and runs the daemon: Kestrel listeners, the gRPC services, systemd integration.</summary>
internal static partial class Daemon
{
    /// <summary>Exit status when the sysfs or procfs root cannot be a machine (sysexits.h EX_NOINPUT), as <c>discover</c> exits.</summary>
    public const int ExitNoInput = 66;

    /// <summary>Exit status when a listener cannot be opened (sysexits.h EX_UNAVAILABLE).</summary>
    public const int ExitUnavailable = 69;

    /// <summary>Exit status when the socket's directory or the state directory cannot be created or written (sysexits.h EX_CANTCREAT).</summary>
    public const int ExitCannotCreate = 73;

    /// <summary>Runs until SIGTERM/SIGINT; returns the process exit status.</summary>
    public static int Run(AgentOptions options)
    {
        // Before anything is created: a hand-started agent under umask 000 would make a world-writable state dir.
        ProcessUmask.Tighten(ProcessUmask.DaemonBits);

        // A root that cannot be a machine would serve an empty or invented inventory: refuse it before listening.
        if (Host.Hardware.Discovery.DiscoveryRoots.Problem(new Host.Hardware.Sysfs.SysfsRoot(options.SysfsRoot), new ProcfsRoot(options.ProcfsRoot)) is { } rootProblem)
        {
            StdoutLoggerProvider.WriteFatal($"cannot discover the hardware: {rootProblem}");
            return ExitNoInput;
        }

        X509Certificate2? certificate = null;
        if (options.Listen is not null && !options.ListenPlaintext)
        {
            try
            {
                certificate = X509Certificate2.CreateFromPemFile(options.TlsCertificate!, options.TlsKey!);
            }
            catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
            {
                StdoutLoggerProvider.WriteFatal($"invalid configuration: tls.certificate: \"{options.TlsCertificate}\" with tls.key \"{options.TlsKey}\": cannot be loaded: {ex.Message}");
                return ConfigurationException.ExitCode;
            }
        }

        var socketFile = new SocketFile(options.Socket);
        if (socketFile.Prepare() is { } socketProblem)
        {
            StdoutLoggerProvider.WriteFatal(socketProblem.Message);
            return socketProblem.ExitCode;
        }

        if (Host.Hardware.Files.WritableDirectory.Ensure(options.StateDir) is { } stateProblem)
        {
            StdoutLoggerProvider.WriteFatal($"cannot use state-dir {options.StateDir}: {stateProblem}");
            return ExitCannotCreate;
        }

        // One daemon per state dir, held until this method returns (the kernel lets go if the process dies).
        using Host.Hardware.Files.StateDirectoryLock? stateLock = Host.Hardware.Files.StateDirectoryLock.TryAcquire(options.StateDir, out string lockProblem);
        if (stateLock is null)
        {
            StdoutLoggerProvider.WriteFatal(lockProblem);
            return ExitCannotCreate;
        }

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            // No file watching of the content root (the binary's folder): a config-reload watcher sets inotify
            // watches on every folder below it, which hangs start-up when the binary lies in a large tree.
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            // AppContext.BaseDirectory is empty when the binary's own path cannot be resolved (an unprivileged user
            // below a directory it may not search); the daemon reads nothing from its content root, so "/" serves.
            ContentRootPath = Path.IsPathFullyQualified(AppContext.BaseDirectory) ? AppContext.BaseDirectory : "/",
        });

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // The hosting layer's per-request category logs only "Request starting/finished" (Information and Debug), but
        // while any level of it is enabled it starts an Activity and a log scope for every request: off, each call
        // skips both (docs/benchmarks/grpc.md, eleventh session).
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        // The generic host's own errors repeat what the daemon reports itself: "Hosting failed to start" before the one
        // "cannot listen" line, and a faulted background service, which it also logs at Critical (with the exception)
        // when it stops the host for it. So only its Critical lines are kept.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Logging.AddProvider(new StdoutLoggerProvider(Console.Out, StdoutLoggerProvider.StdoutIsJournal(), options.LogLevel));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        // The Unix listener's socket comes from SocketFile.Bind, so that its file never appears wider than 0660; the
        // TCP listeners are bound as Kestrel binds them.
        builder.Services.Configure<SocketTransportOptions>(o => o.CreateBoundListenSocket = endpoint =>
            endpoint is UnixDomainSocketEndPoint unix ? SocketFile.Bind(unix) : SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint));

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            new GrpcKestrelLimits().ApplyTo(kestrel);
            // Each listener tags its connections: the router serves gRPC only on the first two and /metrics only on the last.
            kestrel.ListenUnixSocket(options.Socket, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                AgentListenerFeature.Tag(listen, AgentListener.Grpc);
            });
            if (options.Listen is not null && AgentOptionsLoader.TryParseEndpoint(options.Listen, out var endpoint))
            {
                kestrel.Listen(endpoint, listen =>
                {
                    listen.Protocols = HttpProtocols.Http2;
                    AgentListenerFeature.Tag(listen, AgentListener.Grpc);
                    if (certificate is not null)
                    {
                        Tls.TcpListenerTls.Use(listen, certificate, options.ClientCertificateAuthorities is { } authorities
                            ? new Tls.ClientCertificateValidator(authorities, kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("AiFactory.Agent.Tls"), kestrel.ApplicationServices.GetService<Tls.ClientCertificateRevocationFile>())
                            : null);
                    }
                });
            }

            if (options.MetricsListen is not null && AgentOptionsLoader.TryParseEndpoint(options.MetricsListen, out var metrics))
            {
                // Prometheus scrapes over HTTP/1.1; HTTP/2 without TLS could not be negotiated here anyway.
                kestrel.Listen(metrics, listen =>
                {
                    listen.Protocols = HttpProtocols.Http1;
                    AgentListenerFeature.Tag(listen, AgentListener.Metrics);
                });
            }
        });

        builder.Services.AddSingleton(options);
        if (options.ClientCertificateRevocation is { } revocation && options.ClientCertificateAuthorities is { } clientAuthorities)
        {
            // Re-read when the file changes; the timer stops when the container disposes it.
            builder.Services.AddSingleton(sp => new Tls.ClientCertificateRevocationFile(revocation, clientAuthorities, sp.GetRequiredService<ILoggerFactory>().CreateLogger("AiFactory.Agent.Tls")));
        }

        builder.Services.AddSingleton<HostCapabilities>();
        builder.Services.AddSingleton<ISystemdNotifier>(SystemdNotifier.FromEnvironment());
        builder.Services.AddSingleton<EventBus>();
        builder.Services.AddSingleton<HealthService>();
        builder.Services.AddSingleton<AgentApiService>();
        builder.Services.AddSingleton<EventsApiService>();
        builder.Services.AddSingleton<Inventory.InventoryService>();
        builder.Services.AddHostedService<Inventory.InventoryRescanService>();
        builder.Services.AddHostedService<IdleMemoryTrimmer>();
        builder.Services.AddSingleton(sp => new GrpcServerOptions
        {
            MaxReceiveMessageSize = options.MaxMessageSize,
            MaxSendMessageSize = options.MaxMessageSize,
            Authorize = new Api.Access.CallAuthorizer(clientCertificatesConfigured: options.ClientCertificateAuthorities is not null).Authorize,
        });

        // The gRPC services: each feature registers its ServiceDefinition here, one line each.
        builder.Services.AddSingleton(sp => sp.GetRequiredService<HealthService>().Definition());
        builder.Services.AddSingleton(sp => sp.GetRequiredService<AgentApiService>().Definition());
        builder.Services.AddSingleton(sp => sp.GetRequiredService<EventsApiService>().Definition());
        builder.Services.AddSingleton(sp => sp.GetRequiredService<Inventory.InventoryService>().Definition());
        Gpu.GpuRegistration.Add(builder.Services);
        Profile.ProfileRegistration.AddProfile(builder.Services, options);
        Leases.LeaseRegistration.AddLeases(builder.Services, options);

        builder.Services.AddAgentMetrics();
        builder.Services.AddSingleton<GrpcServer>();
        builder.Services.AddSingleton<RequestRouter>();
        builder.Services.AddHostedService(sp => new SystemdLifetime(
            sp.GetRequiredService<ISystemdNotifier>(),
            sp.GetRequiredService<IHostApplicationLifetime>(),
            sp.GetRequiredService<ILogger<SystemdLifetime>>(),
            () => OnListenersAccept(options, socketFile, sp.GetRequiredService<HostCapabilities>(), sp.GetRequiredService<ILoggerFactory>()) + ProfileStatus(sp)));

        WebApplication app = builder.Build();
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AiFactory.Agent.Daemon");
        HostCapabilities capabilities = app.Services.GetRequiredService<HostCapabilities>();
        if (capabilities.ReadOnly)
        {
            LogReadOnly(logger, capabilities.ReadOnlyReason);
        }

        foreach (HostCapability capability in capabilities.All.Where(c => !c.Available && c.Name != "sysfs-write"))
        {
            LogCapabilityMissing(logger, capability.Name, capability.Reason);
        }

        // Resolved before the host starts: the stopping callback also runs when a listener fails to bind, and by then
        // the service provider may be disposed (a lookup would log a crit ObjectDisposedException before the one error).
        HealthService health = app.Services.GetRequiredService<HealthService>();
        Inventory.InventoryService inventory = app.Services.GetRequiredService<Inventory.InventoryService>();
        EventBus bus = app.Services.GetRequiredService<EventBus>();
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            LogStopping(logger, options.ShutdownTimeout.TotalSeconds);
            health.Shutdown();
            inventory.Complete();
            bus.Complete();
        });

        GrpcServer grpc = app.Services.GetRequiredService<GrpcServer>();
        app.Services.GetRequiredService<HealthService>().AddServices(grpc.ServiceNames);
        Leases.LeaseLedger ledger = app.Services.GetRequiredService<Leases.LeaseLedger>();
        app.Services.GetRequiredService<HealthService>().SetProbe(Leases.LeaseService.ServiceName, () => ledger.Unacknowledged() is null);
        RequestRouter router = app.Services.GetRequiredService<RequestRouter>();
        router.MapMetrics(app.Services);
        app.Run(router.HandleAsync);
        try
        {
            app.Run();
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            // Kestrel could not bind: a TCP port in use (IOException), an address not on this host or a port the user
            // may not take (SocketException: EADDRNOTAVAIL, EACCES), a socket path it cannot create.
            StdoutLoggerProvider.WriteFatal($"cannot listen: {ListenerProblem.Describe(options, ex)}");
            return ExitUnavailable;
        }
        finally
        {
            socketFile.Release();
        }

        return 0;
    }

    /// <summary>Runs once every listener accepts, right before READY=1; returns the STATUS= line.</summary>
    private static string OnListenersAccept(AgentOptions options, SocketFile socketFile, HostCapabilities capabilities, ILoggerFactory loggers)
    {
        socketFile.Claim();
        LogListening(loggers.CreateLogger("AiFactory.Agent.Daemon"), options.Socket, options.Listen ?? "off", options.MetricsListen ?? "off");
        return StatusLine(options, capabilities);
    }

    /// <summary>"; " and what the start did with the node profile, for the STATUS= line; empty when there is no profile.</summary>
    private static string ProfileStatus(IServiceProvider sp) =>
        sp.GetService<Profile.ProfileManager>()?.StartStatus is { } status && status != Profile.ProfileStartStatus.None ? "; " + status.Line : string.Empty;

    internal static string StatusLine(AgentOptions options, HostCapabilities capabilities) =>
        $"serving on {options.Socket}" + (options.Listen is null ? string.Empty : $" and {options.Listen}") +
        (capabilities.ReadOnly ? " (read-only)" : string.Empty);

    [LoggerMessage(EventId = EventIds.Listening, Level = LogLevel.Information, Message = "Listening: gRPC on unix:{Socket}, TCP {Listen}, metrics {Metrics}")]
    private static partial void LogListening(ILogger logger, string socket, string listen, string metrics);

    [LoggerMessage(EventId = EventIds.Stopping, Level = LogLevel.Information, Message = "Stopping: finishing calls in flight for at most {ShutdownTimeoutSeconds} s")]
    private static partial void LogStopping(ILogger logger, double shutdownTimeoutSeconds);

    [LoggerMessage(EventId = EventIds.ReadOnlyMode, Level = LogLevel.Warning, Message = "Read-only: serving inventory only, changing nothing on this machine ({Reason})")]
    private static partial void LogReadOnly(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.CapabilityMissing, Level = LogLevel.Warning, Message = "Capability {Capability} unavailable: {Reason}")]
    private static partial void LogCapabilityMissing(ILogger logger, string capability, string reason);
}
