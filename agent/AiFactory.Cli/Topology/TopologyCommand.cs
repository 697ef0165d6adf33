using System.CommandLine;
using AiFactory.Cli.Output;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;

namespace AiFactory.Cli.Topology;

/// <summary>
/// <c>aifactoryctl topology [--json] [--inventory]</c>: the machine as a tree (socket → NUMA node → root port/switch →
/// GPU/NIC/NVMe, with IOMMU groups and hugepages) from <c>Inventory.GetTopology</c>; <c>--json</c> prints the message,
/// <c>--inventory</c> the full <c>GetInventory</c> message instead.
/// </summary>
internal static class TopologyCommand
{
    public static Command Create()
    {
        var inventory = new Option<bool>("--inventory") { Description = "print the full inventory (JSON) instead of the tree" };
        var command = new Command("topology", "show the machine: sockets, NUMA nodes, PCIe tree, IOMMU groups, hugepages");
        command.Options.Add(inventory);
        command.SetAction(async (parse, ct) =>
        {
            using var channel = GlobalOptions.OpenChannel(parse);
            try
            {
                if (parse.GetValue(inventory))
                {
                    HostInventory inv = await channel.UnaryAsync("/aifactory.agent.v1.Inventory/GetInventory", new GetInventoryRequest(), HostInventory.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                    ProtoJson.Print(inv);
                    return ExitCodes.Ok;
                }

                GetTopologyResponse response = await channel.UnaryAsync("/aifactory.agent.v1.Inventory/GetTopology", new GetTopologyRequest(), GetTopologyResponse.Parser, GlobalOptions.Call(parse, ct)).ConfigureAwait(false);
                if (parse.GetValue(GlobalOptions.Json))
                {
                    ProtoJson.Print(response);
                }
                else
                {
                    TopologyTreeText.Print(Console.Out, response.Root);
                    Console.Out.WriteLine($"(inventory generation {response.Generation})");
                }

                return ExitCodes.Ok;
            }
            catch (RpcException ex)
            {
                return RpcErrors.Report(ex);
            }
        });
        return command;
    }
}
