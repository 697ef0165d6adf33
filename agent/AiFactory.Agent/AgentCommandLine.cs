using System.CommandLine;
using AiFactory.Agent.Configuration;
using AiFactory.Agent.Hosting;

namespace AiFactory.Agent;

/// <summary>
/// The command line: with no subcommand the daemon runs; subcommands (discover, capture-fixture, ...) do one
/// job and exit. Every daemon setting can be given as a flag of the same name as its YAML key.
/// </summary>
internal static class AgentCommandLine
{
    /// <summary>Exit status for a command line that does not parse (sysexits.h EX_USAGE).</summary>
    public const int ExitUsage = 64;

    /// <summary>Exit status for an error the agent has no better answer to (sysexits.h EX_SOFTWARE).</summary>
    public const int ExitSoftware = 70;

    public static RootCommand Build()
    {
        var root = new RootCommand("aifactory-agent: the AiFactory node agent for GPU servers (systemd service).");
        var config = new Option<string?>("--config") { Description = $"YAML settings file (default {AgentOptions.DefaultConfigPath}, read if present)" };
        root.Options.Add(config);
        var flags = new List<Option<string?>>();
        foreach ((string key, string description) in FlagDescriptions)
        {
            var option = new Option<string?>("--" + key) { Description = description };
            flags.Add(option);
            root.Options.Add(option);
        }

        root.SetAction(parse =>
        {
            var given = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Option<string?> option in flags)
            {
                if (parse.GetValue(option) is string value)
                {
                    given[option.Name.TrimStart('-')] = value;
                }
            }

            AgentOptions options;
            try
            {
                options = AgentOptionsLoader.Load(parse.GetValue(config), given, EnvironmentVariables());
            }
            catch (ConfigurationException ex)
            {
                Logging.StdoutLoggerProvider.WriteFatal("invalid configuration: " + ex.Message);
                return ConfigurationException.ExitCode;
            }

            try
            {
                return Daemon.Run(options);
            }
            catch (Exception ex)
            {
                // The last resort: one line and EX_SOFTWARE, not a stack trace that systemd would restart into
                // again and again; the stack only when asked for with log-level debug.
                Logging.StdoutLoggerProvider.WriteFatal(ex.Message);
                if (options.LogLevel <= Microsoft.Extensions.Logging.LogLevel.Debug)
                {
                    Console.Error.WriteLine(ex.ToString());
                }

                return ExitSoftware;
            }
        });

        foreach (Command command in Subcommands())
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    /// <summary>Subcommands that run without the daemon. Features add theirs here.</summary>
    private static IEnumerable<Command> Subcommands() =>
    [
        Inventory.DiscoverCommand.Create(),
        Inventory.CaptureFixtureCommand.Create(),
        Profile.ProfileCommand.Create(),
    ];

    private static readonly (string Key, string Description)[] FlagDescriptions =
    [
        ("sysfs-root", "where sysfs is mounted (default /sys; a hardware fixture tree for demos and tests)"),
        ("procfs-root", "where procfs is mounted (default /proc)"),
        ("state-dir", "state directory: journal, leases (default /var/lib/aifactory)"),
        ("socket", "gRPC Unix socket (default /run/aifactory/agent.sock)"),
        ("listen", "TCP host:port for gRPC over TLS (default off)"),
        ("listen-plaintext", "true to serve --listen without TLS (loopback tests only)"),
        ("metrics-listen", "host:port for Prometheus /metrics (default 0.0.0.0:9400; 'off' for none)"),
        ("metrics-hostname-label", "key of the hostname label on GPU series (default Hostname, as dcgm-exporter; empty for none)"),
        ("metrics-hostname", "value of the hostname label (default the machine's name)"),
        ("nvml-library", "NVML library to load (default libnvidia-ml.so.1)"),
        ("libvirt-uris", "comma-separated libvirt URIs a lease may be attached through; the first is the default (default qemu:///system)"),
        ("log-level", "trace, debug, info, warning or error (default info)"),
        ("max-message-size", "largest gRPC message in bytes (default 4194304)"),
        ("shutdown-timeout", "seconds to finish calls in flight on SIGTERM (default 10)"),
        ("idle-trim", "seconds of quiet after work before memory is given back to the OS (default 5; 0 for never)"),
        ("read-only", "true to change nothing on this machine even as root: serve inventory only (default false)"),
        ("tls-certificate", "PEM certificate for --listen"),
        ("tls-key", "PEM private key for --listen"),
        ("tls-client-ca", "PEM bundle of the CAs whose client certificates --listen accepts; without it --listen serves read-only methods only"),
        ("tls-client-crl", "CRLs (PEM or DER), one from each --tls-client-ca CA: client certificates they list are refused; reloaded when the file changes"),
    ];

    internal static Dictionary<string, string?> EnvironmentVariables()
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            if (e.Key is string k && k.StartsWith("AIFACTORY_", StringComparison.Ordinal))
            {
                env[k] = e.Value as string;
            }
        }

        return env;
    }
}
