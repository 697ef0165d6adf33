using System.Collections.Concurrent;
using AiFactory.Agent.Events;
using AiFactory.Agent.Leases;
using AiFactory.Agent.Profile;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Planning.Leases;
using AiFactory.Profile.Tests.Kernel;
using Microsoft.Extensions.Logging.Abstractions;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Profile.Tests.Agent;

/// <summary>
/// A node-profile apply and lease grants on one node (the lab guest's tree, the agent's real lease ledger): a lease
/// asked for while an apply is held mid-way, on something the apply changes, is refused (or waits) and the apply
/// never touches a leased device; a lease granted before the apply is named in the apply's refusal; and the offline
/// command and a running agent exclude each other through the ledger's owner lock.
/// </summary>
public sealed class ProfileLeaseExclusionTests : IDisposable
{
    private const string BindNvme = "version: v1\nvfio:\n  devices: [0000:03:00.0]\n";
    private const string Node1Pool = "devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages";
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(1);
    private static readonly PciAddress Nvme = PciAddress.Parse("0000:03:00.0");
    private static readonly PciAddress OtherNvme = PciAddress.Parse("0000:81:00.0");

    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly FakeSystemctl _systemctl = new();

    public void Dispose()
    {
        _fs.Dispose();
        _systemctl.Dispose();
    }

    [Fact]
    public async Task A_lease_of_a_device_the_held_apply_binds_is_refused_unavailable_and_the_apply_binds_only_its_own()
    {
        using LeaseLedger ledger = Ledger(TimeSpan.Zero);
        var gated = new GatedWriter(new KernelSimulator(_fs), "/driver_override");
        ProfileManager manager = Manager(ledger, gated);
        Task<ProfileApplyResult> applying = Task.Run(() => manager.Apply(BindNvme, "test"));
        Assert.True(gated.Reached.Wait(Wait), "the apply never reached its first write");

        var refused = Assert.Throws<RpcException>(() => GrantDevice(ledger, Nvme));
        LeaseLedger.Entry beside = GrantDevice(ledger, OtherNvme);

        gated.Gate.Set();
        ProfileApplyResult done = await applying.WaitAsync(Wait);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("a node-profile apply is in progress (test, since ", refused.Detail, StringComparison.Ordinal);
        Assert.Contains("changes 0000:03:00.0", refused.Detail, StringComparison.Ordinal);
        Assert.True(done.Report.Succeeded, done.Report.Failure?.Message);
        Assert.Equal("vfio-pci", _fs.DriverOf(Nvme));
        Assert.Equal([OtherNvme], ledger.List(includeEnded: false).SelectMany(e => e.Lease.Plan.Devices).Select(d => d.Address));
        Assert.Equal(LeaseState.Active, beside.Lease.State);
        Assert.Equal("nvme", _fs.DriverOf(OtherNvme));
    }

    [Fact]
    public async Task A_lease_of_hugepages_in_a_pool_the_held_apply_resizes_waits_and_is_planned_after_the_apply()
    {
        using LeaseLedger ledger = Ledger(Wait);
        var gated = new GatedWriter(new KernelSimulator(_fs), "/nr_hugepages");
        ProfileManager manager = Manager(ledger, gated);
        Task<ProfileApplyResult> applying = Task.Run(() => manager.Apply("version: v1\nhugepages:\n  - {node: 1, size: 2M, count: 32}\n", "test"));
        Assert.True(gated.Reached.Wait(Wait), "the apply never reached its hugepage step");

        // Each planning of the lease notes the pool as it is then.
        var seen = new ConcurrentQueue<string?>();
        using var planned = new ManualResetEventSlim();
        Task<LeaseLedger.Entry> leasing = Task.Run(() => ledger.Grant(Spec, Request, null, _ =>
        {
            seen.Enqueue(_fs.Read(Node1Pool));
            planned.Set();
            return new PlanResult(Plan([], new NodeAllocation(1, [2], CpuSet.Empty, 8L << 20), PageSize.Huge2M), null);
        }));
        Assert.True(planned.Wait(Wait), "the lease was never planned");
        bool grantedWhileHeld = leasing.IsCompleted;

        gated.Gate.Set();
        ProfileApplyResult done = await applying.WaitAsync(Wait);
        LeaseLedger.Entry granted = await leasing.WaitAsync(Wait);
        Assert.False(grantedWhileHeld);
        Assert.True(done.Report.Succeeded, done.Report.Failure?.Message);
        Assert.Equal("0", seen.First());
        Assert.Equal("32", seen.Last());
        Assert.Equal(LeaseState.Active, granted.Lease.State);
    }

    [Fact]
    public void A_lease_granted_before_the_apply_is_named_in_its_refusal_and_its_device_stays()
    {
        using LeaseLedger ledger = Ledger(TimeSpan.Zero);
        string lease = GrantDevice(ledger, Nvme).Lease.Id;
        ProfileManager manager = Manager(ledger, new KernelSimulator(_fs));

        var ex = Assert.Throws<ProfileFormatException>(() => manager.Apply(BindNvme, "test"));

        Assert.Contains($"0000:03:00.0 is held by lease {lease}", Assert.Single(ex.Errors).Reason, StringComparison.Ordinal);
        Assert.Equal("nvme", _fs.DriverOf(Nvme));
    }

    [Fact]
    public void After_an_apply_leases_of_what_it_changed_are_granted_again()
    {
        using LeaseLedger ledger = Ledger(TimeSpan.Zero);
        ProfileManager manager = Manager(ledger, new KernelSimulator(_fs));
        Assert.True(manager.Apply(BindNvme, "test").Report.Succeeded);

        Assert.Equal(LeaseState.Active, GrantDevice(ledger, Nvme).Lease.State);
    }

    [Fact]
    public void A_running_agent_with_an_empty_ledger_keeps_the_offline_apply_from_binding()
    {
        using LeaseLedger agent = Ledger(TimeSpan.Zero);
        agent.Load();
        Assert.False(File.Exists(agent.JournalPath));
        ProfileManager offline = Manager(new StoredLeaseHolds(_fs.StateDir), new KernelSimulator(_fs));

        var ex = Assert.Throws<ProfileFormatException>(() => offline.Apply(BindNvme, "cli:test"));

        Assert.Contains("what leases hold is unknown", Assert.Single(ex.Errors).Reason, StringComparison.Ordinal);
        Assert.Contains("running aifactory-agent", ex.Errors[0].Reason, StringComparison.Ordinal);
        Assert.Equal("nvme", _fs.DriverOf(Nvme));
    }

    [Fact]
    public void An_agent_grants_nothing_while_an_offline_apply_holds_the_ledger_and_again_once_it_ended()
    {
        var offline = new StoredLeaseHolds(_fs.StateDir);
        using LeaseLedger agent = Ledger(TimeSpan.Zero);
        RpcException refused;
        using (offline.HoldGrants("cli:test"))
        {
            // The agent starts during the offline apply.
            agent.Load();
            refused = Assert.Throws<RpcException>(() => GrantDevice(agent, OtherNvme));
        }

        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("a node-profile apply is in progress in another process", refused.Detail, StringComparison.Ordinal);
        Assert.Equal(LeaseState.Active, GrantDevice(agent, OtherNvme).Lease.State);
    }

    [Fact]
    public void An_agent_grants_nothing_while_another_process_holds_the_lease_lock_exclusive_with_flock()
    {
        using LeaseLedger agent = Ledger(TimeSpan.Zero);
        Directory.CreateDirectory(_fs.StateDir);
        // Another process's offline apply, as util-linux flock takes it: flock(2) LOCK_EX on its own open of leases.lock.
        using var holder = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/bin/sh")
        {
            ArgumentList = { "-c", "exec 9>>\"$1\" && flock -n -x 9 && echo locked && exec sleep 600", "sh", agent.OwnerLockPath },
            RedirectStandardOutput = true,
        })!;
        try
        {
            Assert.Equal("locked", holder.StandardOutput.ReadLine());
            agent.Load();

            RpcException refused = Assert.Throws<RpcException>(() => GrantDevice(agent, OtherNvme));

            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
            holder.Kill();
            Assert.True(holder.WaitForExit(Wait));
            Assert.Equal(LeaseState.Active, GrantDevice(agent, OtherNvme).Lease.State);
        }
        finally
        {
            if (!holder.HasExited)
            {
                holder.Kill();
            }
        }
    }

    [Fact]
    public async Task A_fifo_in_place_of_the_lease_lock_stops_grants_and_the_offline_apply_naming_it_without_waiting()
    {
        using LeaseLedger agent = Ledger(TimeSpan.Zero);
        Directory.CreateDirectory(_fs.StateDir);
        OfflineProfileStateFileTests.MakeFifo(agent.OwnerLockPath);
        ProfileManager offline = Manager(new StoredLeaseHolds(_fs.StateDir), new KernelSimulator(_fs));

        // On threads of their own: a regression (an open that waits for a writer) fails here instead of hanging the run.
        Task<Exception?> granting = Task.Factory.StartNew<Exception?>(() => Record.Exception(() =>
        {
            agent.Load();
            GrantDevice(agent, OtherNvme);
        }), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Task<Exception?> applying = Task.Factory.StartNew<Exception?>(() => Record.Exception(() => offline.Apply(BindNvme, "cli:test")), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Exception? grant = await granting.WaitAsync(Wait);
        Exception? apply = await applying.WaitAsync(Wait);

        var refused = Assert.IsType<RpcException>(grant);
        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.StartsWith($"{agent.OwnerLockPath}: is not a regular file (a FIFO, device or socket); not opened: lease grants wait until it is removed", refused.Detail, StringComparison.Ordinal);
        string reason = Assert.Single(Assert.IsType<ProfileFormatException>(apply).Errors).Reason;
        Assert.Contains("what leases hold is unknown", reason, StringComparison.Ordinal);
        Assert.Contains($"{agent.OwnerLockPath}: is not a regular file", reason, StringComparison.Ordinal);
        Assert.Equal("nvme", _fs.DriverOf(Nvme));
    }

    private static Wire.LeaseSpec Spec => new() { Owner = "tenant-a" };

    private static LeaseRequest Request => new() { Owner = "tenant-a" };

    private static LeasePlan Plan(IReadOnlyList<LeasedDevice> devices, NodeAllocation node, PageSize pages) => new()
    {
        Devices = devices,
        Nodes = [node],
        EmulatorCpus = CpuSet.Of(0),
        PageSize = pages,
        FragmentationAfter = Fragmentation.Empty,
    };

    private static LeaseLedger.Entry GrantDevice(LeaseLedger ledger, PciAddress device) =>
        ledger.Grant(Spec, Request, null, _ => new PlanResult(Plan([new LeasedDevice(device, DeviceRole.Gpu, null, "nvme")], new NodeAllocation(0, [1], CpuSet.Empty, 0), PageSize.Small4K), null));

    private LeaseLedger Ledger(TimeSpan wait) => new(_fs.StateDir, NullLogger<LeaseLedger>.Instance, TimeProvider.System) { ProfileApplyWait = wait };

    private ProfileManager Manager(ILeaseHolds leases, ISysfsWriter writer) => new(
        TestProfileEnvironment.For(_fs, _systemctl, writer) with { ProbeTimeout = TimeSpan.FromSeconds(5), Leases = leases },
        new EventBus(),
        NullLogger<ProfileManager>.Instance);
}
