using System.CommandLine;

namespace AiFactory.Cli;

/// <summary>aifactoryctl: the operator's CLI. One folder per verb; each verb adds its command here.</summary>
internal static class CliApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand("aifactoryctl: operate the AiFactory node agent over its gRPC API.");
        root.Options.Add(GlobalOptions.Socket);
        root.Options.Add(GlobalOptions.Address);
        root.Options.Add(GlobalOptions.Json);
        root.Options.Add(GlobalOptions.Timeout);
        root.Options.Add(GlobalOptions.Insecure);
        root.Options.Add(GlobalOptions.Ca);
        root.Options.Add(GlobalOptions.Cert);
        root.Options.Add(GlobalOptions.Key);
        root.Subcommands.Add(Health.HealthCommand.Create());
        root.Subcommands.Add(Version.VersionCommand.Create());
        root.Subcommands.Add(Topology.TopologyCommand.Create());
        root.Subcommands.Add(Gpu.GpuCommand.Create());
        root.Subcommands.Add(Mig.MigCommand.Create());
        root.Subcommands.Add(Profile.ProfileCommand.Create());
        root.Subcommands.Add(Lease.LeaseCommand.Create());
        return root;
    }
}
