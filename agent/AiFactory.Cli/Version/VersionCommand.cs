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
                    ProtoJson.Print(agent, CliFields(cli));
                }
                else
                {
                    Console.Out.WriteLine($"aifactoryctl    {cli}");
                    Console.Out.WriteLine($"aifactory-agent {agent.Version}+{agent.Commit} on {agent.Hostname} ({agent.Runtime})");
                }

                return ExitCodes.Ok;
            }
            catch (RpcException ex)
            {
                // What this CLI knows is printed either way; the agent's part is the error, which also goes to
                // stderr as for every verb (with --json, stdout holds JSON only).
                if (parse.GetValue(GlobalOptions.Json))
                {
                    ProtoJson.Print(CliFields(cli), "agentError", ("code", ex.StatusCode.ToString()), ("message", RpcErrors.Describe(ex)));
                }
                else
                {
                    Console.Out.WriteLine($"aifactoryctl    {cli}");
                }

                return RpcErrors.Report(ex);
            }
        });
        return command;
    }

    /// <summary>This CLI's version and commit, split at the '+' of its informational version.</summary>
    private static (string Name, string Value)[] CliFields(string cli)
    {
        int plus = cli.IndexOf('+', StringComparison.Ordinal);
        return [("cliVersion", plus < 0 ? cli : cli[..plus]), ("cliCommit", plus < 0 ? "unknown" : cli[(plus + 1)..])];
    }
}
