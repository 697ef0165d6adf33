using System.CommandLine;
using AiFactory.Host.Hardware.Capture;
using AiFactory.Host.Hardware.Discovery;
using AiFactory.Host.Hardware.Fixtures;
using AiFactory.Host.Hardware.Procfs;
using AiFactory.Host.Hardware.Sysfs;

namespace AiFactory.Agent.Inventory;

/// <summary>
/// <c>aifactory-agent capture-fixture --out FILE [--include-private]</c>: writes the part of this machine's /sys and
/// /proc that discovery reads as a hardware-fixture archive (tools/fixture.sh unpack reads it back). Exit 0; 66
/// (EX_NOINPUT) when the roots cannot be a machine (<see cref="DiscoveryRoots"/>); 64 (EX_USAGE) for an empty
/// <c>--out</c>; 73 (EX_CANTCREAT) when the archive cannot be written,
/// or FILE is something other than a regular file (a directory, link, FIFO or device, left as it is), with one line
/// saying why and no temp file left behind (<see cref="Host.Hardware.Files.ReplacementFile"/>).
/// </summary>
internal static class CaptureFixtureCommand
{
    /// <summary>sysexits.h EX_NOINPUT: a root to read is missing.</summary>
    public const int ExitNoInput = 66;

    /// <summary>sysexits.h EX_CANTCREAT: the archive cannot be written.</summary>
    public const int ExitCannotCreate = 73;

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
            string path = parse.GetValue(output)!;
            if (DiscoveryRoots.TextProblem("--out", path, "a file to write") is { } outProblem)
            {
                Console.Error.WriteLine($"capture-fixture: {outProblem}; nothing captured");
                return AgentCommandLine.ExitUsage;
            }

            if ((DiscoveryRoots.TextProblem("--sysfs-root", parse.GetValue(sysfs)) ?? DiscoveryRoots.TextProblem("--procfs-root", parse.GetValue(procfs))) is { } rootProblem)
            {
                Console.Error.WriteLine($"capture-fixture: {rootProblem}; nothing captured");
                return ExitNoInput;
            }

            var sysfsRoot = new SysfsRoot(parse.GetValue(sysfs)!);
            var procfsRoot = new ProcfsRoot(parse.GetValue(procfs)!);
            if (DiscoveryRoots.Problem(sysfsRoot, procfsRoot) is { } problem)
            {
                Console.Error.WriteLine($"capture-fixture: {problem}; nothing captured");
                return ExitNoInput;
            }

            var warnings = new DiscoveryWarnings();
            IReadOnlyList<ArchiveEntry> entries = FixtureCapture.Capture(sysfsRoot, procfsRoot, parse.GetValue(includePrivate), warnings);
            try
            {
                Host.Hardware.Files.ReplacementFile.Write(path, stream =>
                {
                    using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), leaveOpen: true);
                    TextArchive.Write(writer, entries, $"Captured by aifactory-agent capture-fixture on {DateTimeOffset.UtcNow:yyyy-MM-dd}; unpack with: tools/fixture.sh unpack FILE DEST");
                });
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"capture-fixture: cannot write {path}: {ex.Message}");
                return ExitCannotCreate;
            }

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
