using AiFactory.Agent.Leases;
using AiFactory.Agent.Profile;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Planning.Leases;
using AiFactory.Profile.Tests.Kernel;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Profile.Tests.Mig;

/// <summary>
/// <c>aifactory-agent profile apply</c> without the daemon (fake NVML shaped like a DGX H100, GPU 0 in MIG mode, a
/// lease in the state dir's ledger holding 1g.10gb@6 on it): the MIG layout is planned around the held instance as
/// the daemon plans it, never destroying it; and while an agent has the ledger open, the mig section is refused
/// saying so.
/// </summary>
[Collection("fake-nvml")]
public sealed class OfflineProfileLeaseTests : IDisposable
{
    private static readonly PciAddress Gpu0 = PciAddress.Parse("0000:18:00.0");

    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly FakeNvmlServer _server = new("dgx-h100", s => s["gpus"]![0]!["migMode"] = true);
    private readonly string _profile;
    private readonly string _leaseId;

    public OfflineProfileLeaseTests()
    {
        // The lease's instance, made as the lease binder makes it, and the lease in the ledger the daemon left.
        _server.Applier.CreateAt("0", "1g.10gb", 6, 1);
        using LeaseLedger ledger = Ledger();
        ledger.Load();
        _leaseId = ledger.Grant(new Wire.LeaseSpec { Owner = "tenant-a", MigProfile = "1g.10gb" }, new LeaseRequest { Owner = "tenant-a" }, null, _ => new PlanResult(
            new LeasePlan
            {
                Devices = [],
                Mig = new Host.Model.Leases.MigPlacement(Gpu0, "1g.10gb", 6, 1),
                Nodes = [new NodeAllocation(0, [2, 3], CpuSet.Empty, 1L << 30)],
                EmulatorCpus = CpuSet.Of(0),
                PageSize = PageSize.Huge1G,
                FragmentationAfter = Fragmentation.Empty,
            },
            null)).Lease.Id;
        _profile = Path.Join(_fs.StateDir, "..", "profile.yaml");
    }

    public void Dispose()
    {
        _server.Dispose();
        _fs.Dispose();
    }

    [Fact]
    public void A_layout_that_would_take_the_held_slices_is_refused_naming_the_lease_and_the_instance_stays()
    {
        int exit = Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [7g.80gb]\n", out string errors);

        Assert.Equal(2, exit);
        Assert.Contains($"held by lease {_leaseId}", errors, StringComparison.Ordinal);
        Assert.Equal(["1g.10gb@6:1"], Layout());
    }

    [Fact]
    public void A_layout_that_leaves_out_the_held_instance_is_applied_around_it()
    {
        int exit = Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [3g.40gb, 2g.20gb]\n", out string errors);

        Assert.True(exit == 0, errors);
        Assert.Equal(["3g.40gb@0:4", "2g.20gb@4:2", "1g.10gb@6:1"], Layout());
    }

    [Fact]
    public void While_an_agent_has_the_ledger_open_the_mig_section_is_refused_saying_so_and_nothing_changes()
    {
        using LeaseLedger running = Ledger();
        running.Load(); // the daemon's start: the journal stays open for appends

        int exit = Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [3g.40gb, 2g.20gb]\n", out string errors);

        Assert.Equal(ProfileCommand.ExitStateDirInUse, exit);
        Assert.StartsWith($"aifactory-agent profile apply: state-dir {_fs.StateDir} is in use: a running aifactory-agent holds its lease ledger ({running.OwnerLockPath}), so what leases hold is unknown here and mig cannot be planned", errors, StringComparison.Ordinal);
        Assert.Contains($"(aifactoryctl profile apply -f {_profile})", errors, StringComparison.Ordinal);
        Assert.Single(errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["1g.10gb@6:1"], Layout());
        Assert.Equal(0, _server.Mig.WriteCount);
    }

    [Fact]
    public void A_pool_is_not_shrunk_below_the_hugepages_the_stored_lease_holds()
    {
        const string pages = "devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages";
        _fs.Write(pages, "1");

        int exit = Apply("version: v1\nhugepages:\n  - {node: 0, size: 1G, count: 0}\n", out string errors);

        Assert.Equal(2, exit);
        Assert.Contains($"0 pages is below the 1 that leases hold in node 0's 1048576kB pool ({_leaseId} 1)", errors, StringComparison.Ordinal);
        Assert.Equal("1", _fs.Read(pages));
    }

    [Fact]
    public void While_an_agent_has_the_ledger_open_no_pool_shrinks()
    {
        const string pages = "devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages";
        _fs.Write(pages, "64");
        using LeaseLedger running = Ledger();
        running.Load();

        int exit = Apply("version: v1\nhugepages:\n  - {node: 0, size: 2M, count: 32}\n", out string errors);

        Assert.Equal(ProfileCommand.ExitStateDirInUse, exit);
        Assert.Contains("what leases hold is unknown here and hugepages[0].count cannot be planned", errors, StringComparison.Ordinal);
        Assert.Equal("64", _fs.Read(pages));
    }

    private LeaseLedger Ledger() => new(_fs.StateDir, NullLogger<LeaseLedger>.Instance, TimeProvider.System);

    private int Apply(string yaml, out string errors)
    {
        File.WriteAllText(_profile, yaml);
        var flags = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["sysfs-root"] = _fs.Root,
            ["procfs-root"] = _server.ProcfsRoot,
            ["state-dir"] = _fs.StateDir,
            ["nvml-library"] = FakeNvmlLibrary.Path,
        };
        TextWriter was = Console.Error;
        var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            return ProfileCommand.Run("apply", _profile, flags);
        }
        finally
        {
            Console.SetError(was);
            errors = captured.ToString();
        }
    }

    private List<string> Layout() => [.. _server.Instances(0).Select(i => $"{i.Profile}@{i.Placement}")];
}
