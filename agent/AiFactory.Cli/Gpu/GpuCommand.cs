using System.CommandLine;
using System.Globalization;
using AiFactory.Cli.Output;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;

namespace AiFactory.Cli.Gpu;

/// <summary><c>aifactoryctl gpu list [--serial]</c>: the GPUs NVML sees, their MIG mode and health.</summary>
internal static class GpuCommand
{
    public static Command Create()
    {
        var serial = new Option<bool>("--serial") { Description = "include serial numbers" };
        var list = new Command("list", "list GPUs: bus id, name, memory, MIG mode, NUMA node, health");
        list.Options.Add(serial);
        list.SetAction(async (parse, ct) =>
        {
            using var channel = GlobalOptions.OpenChannel(parse);
            try
            {
                ListGpusResponse r = await channel.UnaryAsync("/aifactory.agent.v1.Gpu/ListGpus", new ListGpusRequest { IncludeSerial = parse.GetValue(serial) }, ListGpusResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                if (parse.GetValue(GlobalOptions.Json))
                {
                    ProtoJson.Print(r);
                    return ExitCodes.Ok;
                }

                if (!r.NvmlAvailable)
                {
                    Console.Out.WriteLine($"NVML not available: {r.NvmlError}");
                    return ExitCodes.Ok;
                }

                Console.Out.WriteLine($"driver {r.DriverVersion}, CUDA {r.CudaDriverVersion / 1000}.{r.CudaDriverVersion % 1000 / 10}");
                Console.Out.WriteLine($"{"IDX",-3} {"BUS ID",-12} {"NAME",-32} {"MEMORY",9} {"MIG",-9} {"NUMA",4} {"NVLINK",6} {"HEALTH",-9} REASON");
                foreach (GpuDevice g in r.Gpus)
                {
                    string mig = !g.MigCapable ? "-" : g.MigEnabled == g.MigPending ? (g.MigEnabled ? "on" : "off") : $"{(g.MigEnabled ? "on" : "off")}>{(g.MigPending ? "on" : "off")}";
                    string memory = (g.MemoryTotalBytes / (1024.0 * 1024 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + "G";
                    int links = g.Nvlinks.Count(l => l.Active);
                    Console.Out.WriteLine($"{g.Index,-3} {(g.BusId.Length == 0 ? "-" : g.BusId),-12} {Trim(g.Name, 32),-32} {memory,9} {mig,-9} {(g.NumaNode < 0 ? "-" : g.NumaNode.ToString(CultureInfo.InvariantCulture)),4} {links,6} {g.Health.ToString().ToLowerInvariant(),-9} {g.HealthReason}");
                }

                return ExitCodes.Ok;
            }
            catch (RpcException ex)
            {
                return RpcErrors.Report(ex);
            }
        });

        var command = new Command("gpu", "GPUs as the NVIDIA driver sees them");
        command.Subcommands.Add(list);
        return command;
    }

    private static string Trim(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "~";
}
