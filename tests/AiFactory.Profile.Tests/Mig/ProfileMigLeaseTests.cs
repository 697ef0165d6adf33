using AiFactory.Agent.Events;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Model.Gpu;
using AiFactory.Host.Model.Pci;
using AiFactory.Profile.Tests.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Profile.Tests.Mig;

/// <summary>
/// The profile's <c>mig</c> section next to the lease ledger (fake NVML shaped like a DGX H100, GPU 0 in MIG mode,
/// a lease holding 1g.10gb@6 on it): the layout is planned around the held instance, and a layout that would
/// destroy or overlap it is refused naming the lease and the GPU, with nothing applied.
/// </summary>
[Collection("fake-nvml")]
public sealed class ProfileMigLeaseTests : IDisposable
{
    private const string Lease = "lease-0000000000c1";
    private static readonly PciAddress Gpu0 = PciAddress.Parse("0000:18:00.0");

    private readonly FakeSysfs _fs = FakeSysfs.LabGuest();
    private readonly FakeSystemctl _systemctl = new();
    private readonly EventBus _bus = new();
    private readonly Holds _holds = new(new MigHold(Gpu0, "1g.10gb", new MigPlacement(6, 1), Lease));
    private readonly FakeNvmlServer _server;
    private readonly ProfileManager _manager;

    public ProfileMigLeaseTests()
    {
        _server = new FakeNvmlServer("dgx-h100", s => s["gpus"]![0]!["migMode"] = true, _holds);
        // The lease's instance, made the way the lease binder makes it.
        _server.Applier.CreateAt("0", "1g.10gb", 6, 1);
        _manager = new ProfileManager(
            TestProfileEnvironment.For(_fs, _systemctl) with { Mig = _server.Mig },
            _bus,
            NullLogger<ProfileManager>.Instance);
    }

    public void Dispose()
    {
        _server.Dispose();
        _fs.Dispose();
        _systemctl.Dispose();
    }

    [Fact]
    public void A_layout_is_applied_around_the_instance_a_lease_holds_and_then_holds()
    {
        ProfileApplyResult result = _manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [3g.40gb, 2g.20gb]\n", "test");

        Assert.True(result.Report.Succeeded, result.Report.Failure?.Message);
        Assert.Equal(["3g.40gb@0:4", "2g.20gb@4:2", "1g.10gb@6:1"], Layout());
        Assert.DoesNotContain(result.Plan.Steps, s => s.Describe().Contains("destroy", StringComparison.Ordinal));
        Assert.Empty(_manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [3g.40gb, 2g.20gb]\n", "test").Plan.Steps);
    }

    [Fact]
    public void Disabling_MIG_under_a_held_instance_is_refused_naming_the_lease_and_the_GPU()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => _manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      enabled: false\n", "test"));

        var error = Assert.Single(ex.Errors);
        Assert.Equal("mig.gpus[0].enabled", error.Field);
        Assert.Equal($"disabling MIG on GPU 0 (0000:18:00.0) would destroy 1g.10gb@6:1 on 0000:18:00.0 held by lease {Lease}: release the lease first", error.Reason);
        Assert.True(_server.MigEnabled(0));
        Assert.Equal(["1g.10gb@6:1"], Layout());
    }

    [Fact]
    public void An_explicit_placement_over_a_held_instance_is_refused_and_nothing_is_applied()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => _manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [3g.40gb@4]\n", "test"));

        var error = Assert.Single(ex.Errors);
        Assert.Equal("mig.gpus[0].layout[0]", error.Field);
        Assert.Contains($"overlaps 1g.10gb@6:1 on 0000:18:00.0 held by lease {Lease}", error.Reason, StringComparison.Ordinal);
        Assert.Equal(["1g.10gb@6:1"], Layout());
        Assert.Equal(0, _server.Mig.WriteCount);
    }

    [Fact]
    public void A_packed_layout_that_needs_the_held_slices_is_refused_naming_the_lease()
    {
        var ex = Assert.Throws<ProfileFormatException>(() => _manager.Apply("version: v1\nmig:\n  gpus:\n    - gpu: 0\n      layout: [3g.40gb, 3g.40gb]\n", "test"));

        var error = Assert.Single(ex.Errors);
        Assert.Equal("mig.gpus[0].layout", error.Field);
        Assert.Contains($"held by lease {Lease}", error.Reason, StringComparison.Ordinal);
        Assert.Equal(["1g.10gb@6:1"], Layout());
    }

    private List<string> Layout() => [.. _server.Instances(0).Select(i => $"{i.Profile}@{i.Placement}")];

    private sealed class Holds(params MigHold[] held) : IMigHolds
    {
        public T While<T>(Func<IReadOnlyList<MigHold>, T> action) => action(held);
    }
}
