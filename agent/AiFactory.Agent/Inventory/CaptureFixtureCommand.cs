using System.CommandLine;
using AiFactory.Host.Hardware.Capture;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;

namespace AiFactory.Agent.Inventory;

/// <summary>
/// <c>aifactory-agent capture-fixture --out FILE [--include-private]</c>: writes the part of this machine's /sys and
/// /proc that discovery reads as a hardware-fixture archive (tools/fixture.sh unpack reads it back).
/// </summary>
internal static class CaptureFixtureCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "archive file to write (.ttar)", Required = true };
        var sysfs = new Option<string>("--sysfs-root") { Description = "where sysfs is mounted (default /sys)", DefaultValueFactory = _ => "/sys" };
        var procfs = new Option<string>("--procfs-root") { Description = "where procfs is mounted (default /proc)", DefaultValueFactory = _ => "/proc" };
        var includePrivate = new Option<bool>("--include-private") { Description = "also capture serial numbers, MAC addresses and GUIDs" };
        var command = new Command("capture-fixture", "capture this machine's hardware layout (sysfs/procfs subset) as a fixture archive for a bug report");
        command.Options.Add(output);
        command.Options.Add(sysfs);
        command.Options.Add(procfs);
        command.Options.Add(includePrivate);
        command.SetAction(parse =>
        {
            var warnings = new DiscoveryWarnings();
            IReadOnlyList<ArchiveEntry> entries = FixtureCapture.Capture(new SysfsRoot(parse.GetValue(sysfs)!), new ProcfsRoot(parse.GetValue(procfs)!), parse.GetValue(includePrivate), warnings);
            string path = parse.GetValue(output)!;
            string temp = path + ".tmp";
            using (var writer = new StreamWriter(temp, false, new System.Text.UTF8Encoding(false)))
            {
                TextArchive.Write(writer, entries, $"Captured by aifactory-agent capture-fixture on {DateTimeOffset.UtcNow:yyyy-MM-dd}; unpack with: tools/fixture.sh unpack FILE DEST");
            }

            File.Move(temp, path, true);
            Console.Out.WriteLine($"wrote {entries.Count} entries to {path}" + (parse.GetValue(includePrivate) ? string.Empty : " (no serial numbers, MACs or UUIDs; --include-private adds them)"));
            foreach (var w in warnings.Items)
            {
                Console.Error.WriteLine($"warning: {w.Path}: {w.Message}");
            }

            return 0;
        });
        return command;
    }
}
