using System.Diagnostics;
using AiFactory.Agent.Leases;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Files;
using AiFactory.Profile.Tests.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Profile.Tests.Agent;

/// <summary>
/// <c>aifactory-agent profile</c> without the daemon, against odd state files: a FIFO where the profile journal or the
/// lease journal should be ends the command with an error naming it (never a wait for a writer), and an agent's claim
/// on the lease ledger (<c>leases.lock</c>) is seen by an offline command run with
/// <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING=1</c>, which turns off only .NET's own file locks: the command then exits 73
/// in one line naming the state dir and the agent, as the daemon does when another agent uses its state dir.
/// </summary>
[Collection(ConsoleErrorCollection.Name)]
public sealed class OfflineProfileStateFileTests : IDisposable
{
    private const string Pages = "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages";
    private const string ShrinkPool = "version: v1\nhugepages:\n  - {node: 0, size: 2M, count: 32}\n";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(120);

    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly string _profile;
    private readonly string _procfs;

    public OfflineProfileStateFileTests()
    {
        _profile = Path.Join(Path.GetDirectoryName(_fs.Root)!, "profile.yaml");
        _procfs = Directory.CreateDirectory(Path.Join(Path.GetDirectoryName(_fs.Root)!, "proc")).FullName;
        Directory.CreateDirectory(_fs.StateDir);
        _fs.Write(Pages, "64");
    }

    public void Dispose() => _fs.Dispose();

    [Theory]
    [InlineData("recover")]
    [InlineData("apply")]
    public async Task A_fifo_at_the_profile_journal_ends_the_command_with_an_error_naming_it(string verb)
    {
        string journal = Path.Join(_fs.StateDir, "profile", "journal.json");
        Directory.CreateDirectory(Path.GetDirectoryName(journal)!);
        MakeFifo(journal);

        (int exit, string errors) = await RunInProcessAsync(verb, journal);

        Assert.Equal(1, exit);
        Assert.Contains($"profile journal {journal}: is not a regular file", errors, StringComparison.Ordinal);
        Assert.Equal("64", _fs.Read(Pages));
    }

    [Theory]
    [InlineData("plan")]
    [InlineData("apply")]
    public async Task A_fifo_named_as_the_profile_file_is_refused_not_waited_on(string verb)
    {
        string fifo = Path.Join(Path.GetDirectoryName(_fs.Root)!, "profile-fifo.yaml");
        MakeFifo(fifo);

        (int exit, string errors) = await RunInProcessAsync(verb, fifo, profileFile: fifo);

        Assert.Equal(1, exit);
        Assert.Contains($"{fifo}: is not a regular file", errors, StringComparison.Ordinal);
        Assert.Equal("64", _fs.Read(Pages));
    }

    [Fact]
    public async Task A_fifo_at_the_lease_journal_refuses_what_depends_on_the_holds_naming_it()
    {
        string journal = Path.Join(_fs.StateDir, "leases.journal");
        MakeFifo(journal);

        (int exit, string errors) = await RunInProcessAsync("apply", journal);

        Assert.Equal(2, exit);
        Assert.Contains("what leases hold is unknown", errors, StringComparison.Ordinal);
        Assert.Contains($"{journal}: is not a regular file (a FIFO, device or socket); not opened", errors, StringComparison.Ordinal);
        Assert.Equal("64", _fs.Read(Pages));
    }

    [Fact]
    public async Task A_running_agents_lease_lock_refuses_an_offline_command_run_with_file_locking_disabled()
    {
        // The daemon's start: it takes leases.lock shared and keeps it (also with an empty ledger).
        using var running = new LeaseLedger(_fs.StateDir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
        running.Load();
        File.WriteAllText(_profile, ShrinkPool);

        using Process child = Process.Start(new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            ArgumentList =
            {
                Path.Join(AppContext.BaseDirectory, "aifactory-agent.dll"), "profile", "apply", "--file", _profile,
                "--sysfs-root", _fs.Root, "--procfs-root", _procfs, "--state-dir", _fs.StateDir,
            },
            Environment =
            {
                ["DOTNET_SYSTEM_IO_DISABLEFILELOCKING"] = "1",
                ["AIFACTORY_NVML_LIBRARY"] = Path.Join(_procfs, "no-libnvidia-ml.so.1"),
            },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        Task<string> errors = child.StandardError.ReadToEndAsync();
        Task<string> output = child.StandardOutput.ReadToEndAsync();
        await child.WaitForExitAsync().WaitAsync(Generous);

        Assert.True(child.ExitCode == 73, $"exit {child.ExitCode}: {await errors} {await output}");
        Assert.StartsWith($"aifactory-agent profile apply: state-dir {_fs.StateDir} is in use: a running aifactory-agent holds its lease ledger ({running.OwnerLockPath})", await errors, StringComparison.Ordinal);
        Assert.Equal("64", _fs.Read(Pages));
    }

    [Theory]
    [InlineData("plan")]
    [InlineData("apply")]
    public async Task Beside_a_running_agent_a_profile_that_needs_the_lease_holds_exits_73_in_one_line_naming_the_state_dir_and_the_agent(string verb)
    {
        // The daemon's start: agent.lock taken (its pid written there), then the ledger's owner lock held shared.
        using StateDirectoryLock agent = StateDirectoryLock.TryAcquire(_fs.StateDir, out string problem) ?? throw new InvalidOperationException(problem);
        using var running = new LeaseLedger(_fs.StateDir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
        running.Load();

        (int exit, string errors) = await RunInProcessAsync(verb, running.OwnerLockPath);

        Assert.Equal(ProfileCommand.ExitStateDirInUse, exit);
        string line = Assert.Single(Lines(errors));
        Assert.Equal(
            $"aifactory-agent profile {verb}: state-dir {_fs.StateDir} is in use: a running aifactory-agent (pid {Environment.ProcessId}) holds its lease ledger " +
            $"({running.OwnerLockPath}), so what leases hold is unknown here and hugepages[0].count cannot be planned; {verb} the profile through that agent " +
            $"(aifactoryctl profile {verb} -f {_profile}), or stop it first" + (verb == "apply" ? "; nothing was changed" : string.Empty),
            line);
        Assert.Equal("64", _fs.Read(Pages));
    }

    [Fact]
    public async Task Beside_a_running_agent_a_profile_with_an_error_of_its_own_is_still_invalid_and_exits_2()
    {
        using var running = new LeaseLedger(_fs.StateDir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);
        running.Load();

        (int exit, string errors) = await RunInProcessAsync("apply", running.OwnerLockPath, yaml: ShrinkPool + "  - {node: 9, size: 2M, count: 1}\n");

        Assert.Equal(2, exit);
        Assert.Contains("invalid profile: hugepages[1].node: no NUMA node 9", errors, StringComparison.Ordinal);
        Assert.All(Lines(errors), l => Assert.StartsWith("invalid profile: hugepages[", l, StringComparison.Ordinal));
        Assert.Equal("64", _fs.Read(Pages));
    }

    /// <summary>
    /// Runs the command in this process on a thread of its own, giving up after a generous wait (a FIFO opened for
    /// reading blocks until a writer comes: then one is opened, so the thread ends, and the test fails).
    /// </summary>
    private async Task<(int Exit, string Errors)> RunInProcessAsync(string verb, string fifo, string? profileFile = null, string yaml = ShrinkPool)
    {
        File.WriteAllText(_profile, yaml);
        var flags = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["sysfs-root"] = _fs.Root,
            ["procfs-root"] = _procfs,
            ["state-dir"] = _fs.StateDir,
            ["nvml-library"] = Path.Join(_procfs, "no-libnvidia-ml.so.1"),
        };
        TextWriter was = Console.Error;
        var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            Task<int> run = Task.Factory.StartNew(() => ProfileCommand.Run(verb, verb == "recover" ? null : profileFile ?? _profile, flags), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            try
            {
                return (await run.WaitAsync(Generous), captured.ToString());
            }
            catch (TimeoutException)
            {
                using (new FileStream(fifo, FileMode.Open, FileAccess.Write))
                {
                }

                throw new Xunit.Sdk.XunitException($"profile {verb} waited on the FIFO {fifo} for {Generous.TotalSeconds} s");
            }
        }
        finally
        {
            Console.SetError(was);
        }
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    internal static void MakeFifo(string path)
    {
        using Process mkfifo = Process.Start("mkfifo", [path]);
        Assert.True(mkfifo.WaitForExit(Generous));
        Assert.Equal(0, mkfifo.ExitCode);
    }
}
