using System.CommandLine;
using System.Globalization;
using System.Text;
using AiFactory.Contracts.Agent.V1;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;
using AiFactory.Host.Model.Topology;
using Google.Protobuf;

namespace AiFactory.Agent.Inventory;

/// <summary>
/// <c>aifactory-agent discover [--sysfs-root DIR] [--procfs-root DIR] [--json]</c>: reads the machine once and prints the
/// inventory without starting the daemon; <c>--json</c> prints the <c>HostInventory</c> message in the canonical
/// protobuf JSON mapping. Exit 0, or 2 when discovery left warnings and <c>--strict</c> was given, or 66 (EX_NOINPUT)
/// with one line when the roots cannot be a machine (<see cref="DiscoveryRoots"/>: an empty root, no
/// <c>devices/system/cpu/online</c> under the sysfs root, or a procfs root that is not a directory); a mistyped root
/// would otherwise give an empty or invented machine.
/// </summary>
internal static class DiscoverCommand
{
    public static Command Create()
    {
        var sysfs = new Option<string>("--sysfs-root") { Description = "where sysfs is mounted (default /sys)", DefaultValueFactory = _ => "/sys" };
        var procfs = new Option<string>("--procfs-root") { Description = "where procfs is mounted (default /proc)", DefaultValueFactory = _ => "/proc" };
        var json = new Option<bool>("--json") { Description = "print the inventory as protobuf JSON" };
        var strict = new Option<bool>("--strict") { Description = "exit 2 when anything could not be read" };
        var command = new Command("discover", "read this machine's hardware from sysfs/procfs and print it");
        command.Options.Add(sysfs);
        command.Options.Add(procfs);
        command.Options.Add(json);
        command.Options.Add(strict);
        command.SetAction(parse =>
        {
            string sysfsRoot = parse.GetValue(sysfs)!;
            string procfsRoot = parse.GetValue(procfs)!;
            if ((DiscoveryRoots.TextProblem("--sysfs-root", sysfsRoot) ?? DiscoveryRoots.TextProblem("--procfs-root", procfsRoot)
                ?? DiscoveryRoots.Problem(new SysfsRoot(sysfsRoot), new ProcfsRoot(procfsRoot))) is { } problem)
            {
                Console.Error.WriteLine($"discover: {problem}; nothing discovered");
                return CaptureFixtureCommand.ExitNoInput;
            }

            HostTopology topology = new HostDiscovery(sysfsRoot, procfsRoot).Discover();
            HostInventory inventory = InventoryMapper.ToProto(topology, sysfsRoot, procfsRoot);
            inventory.Generation = 1;
            inventory.DiscoveredUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var output = new StringWriter(CultureInfo.InvariantCulture);
            if (parse.GetValue(json))
            {
                output.WriteLine(new JsonFormatter(JsonFormatter.Settings.Default.WithIndentation()).Format(inventory));
            }
            else
            {
                TopologyTreeText.Print(output, TopologyTree.Build(inventory));
            }

            // One write: Console.Out flushes every 256 bytes, a few hundred write(2) calls for a large server's inventory.
            using (Stream stdout = Console.OpenStandardOutput())
            {
                stdout.Write(Encoding.UTF8.GetBytes(output.ToString()));
            }

            foreach (DiscoveryWarning w in topology.Warnings)
            {
                Console.Error.WriteLine($"warning: {w.Path}: {w.Message}" + (w.RawValue is null ? string.Empty : $" (value \"{w.RawValue}\")"));
            }

            return parse.GetValue(strict) && topology.Warnings.Count > 0 ? 2 : 0;
        });
        return command;
    }
}
