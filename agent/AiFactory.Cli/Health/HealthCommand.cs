using System.CommandLine;
using AiFactory.Cli.Output;
using AiFactory.Grpc;
using Grpc.Health.V1;

namespace AiFactory.Cli.Health;

/// <summary><c>aifactoryctl health [--service NAME]</c>: the standard gRPC health check. Exit 0 when SERVING.</summary>
internal static class HealthCommand
{
    public static Command Create()
    {
        var service = new Option<string>("--service") { Description = "a service's full name (default: the whole agent)", DefaultValueFactory = _ => string.Empty };
        var command = new Command("health", "ask the agent whether it is serving");
        command.Options.Add(service);
        command.SetAction(async (parse, ct) =>
        {
            using var channel = GlobalOptions.OpenChannel(parse);
            try
            {
                HealthCheckResponse response = await channel.UnaryAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest { Service = parse.GetValue(service) }, HealthCheckResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                if (parse.GetValue(GlobalOptions.Json))
                {
                    ProtoJson.Print(response);
                }
                else
                {
                    Console.Out.WriteLine(response.Status.ToString().ToUpperInvariant());
                }

                return response.Status == HealthCheckResponse.Types.ServingStatus.Serving ? ExitCodes.Ok : ExitCodes.NotOk;
            }
            catch (RpcException ex)
            {
                return RpcErrors.Report(ex);
            }
        });
        return command;
    }
}
