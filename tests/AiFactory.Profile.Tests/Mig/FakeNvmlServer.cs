using System.Text.Json.Nodes;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;
using AiFactory.Tests.Shared;

namespace AiFactory.Profile.Tests.Mig;

/// <summary>Every test that loads the fake libnvidia-ml: one library per process, so they run one at a time.</summary>
[CollectionDefinition("fake-nvml", DisableParallelization = true)]
public sealed class FakeNvmlCollection;

/// <summary>
/// A simulated GPU server for the profile's MIG: a copy of <c>hardware-fixtures/&lt;name&gt;/nvml.json</c> (edited per
/// test), a sysfs tree with one reset file per GPU, a procfs tree for process names, and the agent's own NVML layer
/// (<see cref="GpuNvml"/>, <see cref="MigApplier"/>) opened on the fake libnvidia-ml (tests/fake-nvml).
/// </summary>
internal sealed class FakeNvmlServer : IDisposable
{
    /// <param name="holds">The GPU instances leases hold, as the ledger would report them; none when null.</param>
    public FakeNvmlServer(string fixture, Action<JsonObject>? edit = null, IMigHolds? holds = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "aifactory-profile-mig", Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(Root);
        var state = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot, "hardware-fixtures", fixture, "nvml.json")))!;
        edit?.Invoke(state);
        File.WriteAllText(Path.Combine(Root, "nvml.json"), state.ToJsonString());
        foreach (JsonNode? gpu in state["gpus"]!.AsArray())
        {
            string dir = Path.Combine(SysfsRoot, "bus/pci/devices", gpu!["busId"]!.GetValue<string>().ToLowerInvariant());
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "reset"), string.Empty);
        }

        Directory.CreateDirectory(ProcfsRoot);
        File.WriteAllText(Path.Combine(Root, "events"), string.Empty);
        FakeNvmlLibrary.Point(Path.Combine(Root, "nvml.json"), Path.Combine(Root, "mig.state"), Path.Combine(Root, "events"), SysfsRoot);
        Nvml = new GpuNvml(FakeNvmlLibrary.Path, SysfsRoot);
        Assert.True(Nvml.Nvml is not null, Nvml.Error);
        Inventory = new GpuInventory(Nvml, new GpuHealthRegistry());
        Applier = new MigApplier(Nvml, Inventory, holds);
        Mig = new ProfileMig(Nvml, Inventory, Applier, ProcfsRoot);
    }

    public static string RepoRoot => FakeNvmlLibrary.RepositoryRoot;

    public string Root { get; }

    public string SysfsRoot => Path.Combine(Root, "sys");

    public string ProcfsRoot => Path.Combine(Root, "proc");

    public GpuNvml Nvml { get; }

    public GpuInventory Inventory { get; }

    public MigApplier Applier { get; }

    public ProfileMig Mig { get; }

    /// <summary>The GPU's MIG mode as NVML reports it now.</summary>
    public bool MigEnabled(uint index) => Nvml.Nvml!.GetMigMode(Nvml.Nvml.GetDevice(index)) is (true, _);

    /// <summary>The GPU instances NVML lists now, by placement.</summary>
    public IReadOnlyList<MigInstance> Instances(uint index)
    {
        INvml api = Nvml.Nvml!;
        NvmlDevice device = api.GetDevice(index);
        return MigReader.ReadInstances(api, device, MigReader.ReadProfiles(api, device));
    }

    public void Dispose()
    {
        Nvml.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
