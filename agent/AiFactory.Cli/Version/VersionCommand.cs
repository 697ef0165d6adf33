using System.CommandLine;
using System.Reflection;
using AiFactory.Cli.Output;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;

namespace AiFactory.Cli.Version;

/// <summary><c>aifactoryctl version</c>: this CLI's version and the agent's.</summary>
internal static class VersionCommand
{
    public static Command Create()
    {
        var command = new Command("version", "print the CLI's and the agent's version and commit");
        command.SetAction(async (parse, ct) =>
        {
            string cli = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            using var channel = GlobalOptions.OpenChannel(parse);
            try
            {
                GetVersionResponse agent = await channel.UnaryAsync("/aifactory.agent.v1.Agent/GetVersion", new GetVersionRequest(), GetVersionResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                if (parse.GetValue(GlobalOptions.Json))
                {
                    // The agent's fields as they were, then this CLI's: the two may come from different builds.
                    int plus = cli.IndexOf('+', StringComparison.Ordinal);
                    ProtoJson.Print(agent, ("cliVersion", plus < 0 ? cli : cli[..plus]), ("cliCommit", plus < 0 ? "unknown" : cli[(plus + 1)..]));
                }
                else
                {
                    Console.Out.WriteLine($"aifactoryctl   {cli}");
                    Console.Out.WriteLine($"aifactory-agent {agent.Version}+{agent.Commit} on {agent.Hostname} ({agent.Runtime})");
                }

                return ExitCodes.Ok;
            }
            catch (RpcException ex)
            {
                if (!parse.GetValue(GlobalOptions.Json))
                {
                    Console.Out.WriteLine($"aifactoryctl   {cli}");
                }

                return RpcErrors.Report(ex);
            }
        });
        return command;
    }
}
