using System.Diagnostics;
using AiFactory.Agent.Events;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Pci;
using AiFactory.Profile.Tests.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Profile.Tests.Agent;

/// <summary>One node-profile change at a time on a state dir, across appliers and processes.</summary>
public sealed class ProfileLockTests : IDisposable
{
    private const string LabProfile = """
        version: v1
        vfio:
          devices: [0000:03:00.0]
        hugepages:
          - {node: 1, size: 2M, count: 32}
        """;

    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(1);
    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly FakeSystemctl _systemctl = new();

    public void Dispose()
    {
        _fs.Dispose();
        _systemctl.Dispose();
    }

    private ProfileManager Manager(ISysfsWriter? writer = null) => new(
        TestProfileEnvironment.For(_fs, _systemctl, writer) with { ProbeTimeout = TimeSpan.FromSeconds(5) },
        new EventBus(),
        NullLogger<ProfileManager>.Instance);

    [Fact]
    public async Task A_second_applier_refuses_while_the_first_applies_and_leaves_its_journal_alone()
    {
        var gated = new GatedWriter(new KernelSimulator(_fs), "/nr_hugepages");
        ProfileManager first = Manager(gated);
        ProfileManager second = Manager();
        Task<ProfileApplyResult> running = Task.Run(() => first.Apply(LabProfile, "first"));
        Assert.True(gated.Reached.Wait(Wait), "the first apply never reached its hugepage step");

        var applying = Assert.Throws<ProfileLockedException>(() => second.Apply(LabProfile, "second"));
        var recovering = Assert.Throws<ProfileLockedException>(second.Recover);

        // Still the first apply's journal and its bind, not rolled back by the second's recovery.
        Assert.Contains($"pid {Environment.ProcessId} (", applying.Message, StringComparison.Ordinal);
        Assert.Contains("apply (first)", applying.Message, StringComparison.Ordinal);
        Assert.Contains(ProfileLock.PathIn(_fs.StateDir), recovering.Message, StringComparison.Ordinal);
        Assert.Equal("applying", new ProfileJournal(_fs.StateDir).Load().Phase);
        Assert.Equal("vfio-pci", _fs.DriverOf(PciAddress.Parse("0000:03:00.0")));
        gated.Gate.Set();
        ProfileApplyResult done = await running.WaitAsync(Wait);
        Assert.True(done.Report.Succeeded, done.Report.Failure?.Message);
        Assert.Equal("32", _fs.Read("devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"));
        Assert.True(second.Apply(LabProfile, "second").Plan.IsNoOp);
    }

    [Fact]
    public void Another_process_holding_the_lock_is_named_and_its_death_lets_go_of_the_lock()
    {
        string lockFile = ProfileLock.PathIn(_fs.StateDir);
        Directory.CreateDirectory(Path.GetDirectoryName(lockFile)!);
        // A process of its own: locks the file on fd 9, writes who it is, then sleeps with the lock (exec keeps fd 9).
        using var holder = Process.Start(new ProcessStartInfo("/bin/sh")
        {
            ArgumentList = { "-c", "exec 9<>\"$1\" && flock -n 9 && echo \"pid $$ (test holder): apply (shell)\" >&9 && echo locked && exec sleep 600", "sh", lockFile },
            RedirectStandardOutput = true,
        })!;
        try
        {
            Assert.Equal("locked", holder.StandardOutput.ReadLine());
            ProfileManager manager = Manager();

            var ex = Assert.Throws<ProfileLockedException>(() => manager.Apply(LabProfile, "test"));

            Assert.Equal($"pid {holder.Id} (test holder): apply (shell)", ex.Holder);
            Assert.Equal("0", _fs.Read("devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"));
            holder.Kill();
            Assert.True(holder.WaitForExit(Wait));
            Assert.True(manager.Apply(LabProfile, "test").Report.Succeeded);
        }
        finally
        {
            if (!holder.HasExited)
            {
                holder.Kill();
            }
        }
    }
}
