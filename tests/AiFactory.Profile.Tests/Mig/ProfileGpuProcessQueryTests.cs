using System.Runtime.InteropServices;
using AiFactory.Agent.Events;
using AiFactory.Agent.Profile;
using AiFactory.Host.Model.Pci;
using AiFactory.Profile.Tests.Kernel;
using AiFactory.Tests.Shared;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Profile.Tests.Mig;

/// <summary>
/// NVML is asked for the GPUs' running processes only when a plan takes a GPU from its driver (fake libnvidia-ml
/// shaped like a DGX H100, its GPU 0 on the lab guest's tree, bound to nvidia): not for a vfio section of other
/// devices, not for the drift check of a profile that holds, counted by the fake's own call counter.
/// </summary>
[Collection("fake-nvml")]
public sealed class ProfileGpuProcessQueryTests : IDisposable
{
    private const string ProcessQuery = "nvmlDeviceGetComputeRunningProcesses_v3";
    private static readonly PciAddress Gpu0 = PciAddress.Parse("0000:18:00.0");

    private readonly FakeSysfs _fs = FakeSysfs.LabGuest().Device("0000:18:00.0", 0x10de, 0x2330, 0x030200, "nvidia", 20);
    private readonly FakeSystemctl _systemctl = new();
    private readonly FakeNvmlServer _server = new("dgx-h100");
    private readonly ProfileManager _manager;

    public ProfileGpuProcessQueryTests()
    {
        _manager = new ProfileManager(
            TestProfileEnvironment.For(_fs, _systemctl) with { Mig = _server.Mig, ProbeTimeout = TimeSpan.FromSeconds(5) },
            new EventBus(),
            NullLogger<ProfileManager>.Instance);
    }

    public void Dispose()
    {
        _server.Dispose();
        _fs.Dispose();
        _systemctl.Dispose();
    }

    [Fact]
    public void A_vfio_section_without_a_GPU_to_unbind_asks_NVML_nothing_on_plan_apply_or_drift_check()
    {
        const string profile = "version: v1\nvfio:\n  devices: [0000:03:00.0]\n";

        ulong queries = CountQueries(() =>
        {
            _manager.Plan(profile);
            Assert.True(_manager.Apply(profile, "test").Report.Succeeded);
            Assert.True(_manager.CheckDrift()!.IsNoOp);
        });

        Assert.Equal(0UL, queries);
    }

    [Fact]
    public void A_GPU_to_unbind_is_checked_once_per_plan_and_not_again_once_it_is_bound()
    {
        const string profile = "version: v1\nvfio:\n  devices: [0000:18:00.0]\n";

        ulong planning = CountQueries(() => Assert.Contains(_manager.Plan(profile).Plan.GpusUnbound, g => g == Gpu0));
        ProfileApplyResult applied = _manager.Apply(profile, "test");
        ulong afterwards = CountQueries(() =>
        {
            Assert.True(_manager.Plan(profile).Plan.IsNoOp);
            Assert.True(_manager.CheckDrift()!.IsNoOp);
        });

        Assert.Equal(8UL, planning); // one query per GPU NVML sees
        Assert.True(applied.Report.Succeeded, applied.Report.Failure?.Message);
        Assert.Equal("vfio-pci", _fs.DriverOf(Gpu0));
        Assert.Equal(0UL, afterwards);
    }

    /// <summary>The process queries the fake libnvidia-ml answered while <paramref name="action"/> ran.</summary>
    private static unsafe ulong CountQueries(Action action)
    {
        nint library = NativeLibrary.Load(FakeNvmlLibrary.Path);
        try
        {
            var count = (delegate* unmanaged<byte*, ulong>)NativeLibrary.GetExport(library, "fakeNvmlCallCount");
            byte[] name = [.. System.Text.Encoding.ASCII.GetBytes(ProcessQuery), 0];
            fixed (byte* fn = name)
            {
                ulong before = count(fn);
                action();
                return count(fn) - before;
            }
        }
        finally
        {
            NativeLibrary.Free(library);
        }
    }
}
