using System.Text.Json.Nodes;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Metrics;
using AiFactory.Tests.Shared;

namespace AiFactory.Gpu.Tests;

/// <summary>Every test that loads the fake libnvidia-ml: one library per process, so they run one at a time.</summary>
[CollectionDefinition("fake-nvml", DisableParallelization = true)]
public sealed class FakeNvmlCollection;

/// <summary>
/// A simulated server: a copy of <c>hardware-fixtures/&lt;name&gt;/nvml.json</c> (optionally edited), a sysfs tree with
/// one reset file per GPU, an events file, and the agent's real NVML binding opened on the fake library.
/// </summary>
internal sealed class FakeServer : IDisposable
{
    /// <param name="fixture">hardware-fixtures/&lt;fixture&gt;/nvml.json.</param>
    /// <param name="edit">Changes to the state for this test only.</param>
    /// <param name="captureTree">Use the discovery fixture hardware-fixtures/&lt;fixture&gt;.ttar as the sysfs root.</param>
    /// <param name="metrics">Count NVML errors there, as the daemon does.</param>
    public FakeServer(string fixture, Action<JsonObject>? edit = null, bool captureTree = false, AgentMetrics? metrics = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "aifactory-gpu-tests", Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(Root);
        var state = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(Profiles.RepoRoot, "hardware-fixtures", fixture, "nvml.json")))!;
        edit?.Invoke(state);
        File.WriteAllText(StatePath, state.ToJsonString());
        if (captureTree)
        {
            AiFactory.Host.Hardware.Fixtures.TextArchive.Extract(Path.Combine(Profiles.RepoRoot, "hardware-fixtures", fixture + ".ttar"), Root);
        }

        foreach (JsonNode? gpu in captureTree ? [] : state["gpus"]!.AsArray())
        {
            // What the kernel shows of an NVIDIA GPU bound to the nvidia driver: ids, class, the driver link, reset.
            string dir = Path.Combine(SysfsRoot, "bus/pci/devices", gpu!["busId"]!.GetValue<string>());
            if (Directory.Exists(dir))
            {
                continue; // a state that gives two GPUs one bus id (a duplicate test): sysfs has one device there
            }

            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "reset"), string.Empty);
            uint pciDeviceId = Convert.ToUInt32(gpu["pciDeviceId"]?.GetValue<string>() ?? "0x233010de", 16);
            File.WriteAllText(Path.Combine(dir, "vendor"), "0x10de\n");
            File.WriteAllText(Path.Combine(dir, "device"), $"0x{pciDeviceId >> 16:x4}\n");
            File.WriteAllText(Path.Combine(dir, "class"), "0x030200\n");
            Directory.CreateDirectory(Path.Combine(SysfsRoot, "bus/pci/drivers/nvidia"));
            File.CreateSymbolicLink(Path.Combine(dir, "driver"), "../../drivers/nvidia");
        }

        File.WriteAllText(EventsPath, string.Empty);
        FakeNvmlLibrary.Point(StatePath, Path.Combine(Root, "mig.state"), EventsPath, SysfsRoot, IdentityPath);
        Nvml = new GpuNvml(FakeNvmlLibrary.Path, SysfsRoot, metrics: metrics);
        Assert.True(Nvml.Nvml is not null, Nvml.Error);
        Inventory = new GpuInventory(Nvml, Health);
        Applier = new MigApplier(Nvml, Inventory);
    }

    public string Root { get; }

    public string StatePath => Path.Combine(Root, "nvml.json");

    public string EventsPath => Path.Combine(Root, "events");

    /// <summary>
    /// Lines "&lt;gpu index&gt; uuid|busId &lt;value&gt;" that the fake reads at every UUID and PCI-info call: what a GPU
    /// reports after start, instead of the state file's (absent: the state file's).
    /// </summary>
    public string IdentityPath => Path.Combine(Root, "identity");

    public string SysfsRoot => Path.Combine(Root, "sys");

    public GpuNvml Nvml { get; }

    public GpuHealthRegistry Health { get; } = new();

    public GpuInventory Inventory { get; }

    public MigApplier Applier { get; }

    public string ResetFile(string busId) => Path.Combine(SysfsRoot, "bus/pci/devices", busId, "reset");

    /// <summary>Appends one event line for the fake's nvmlEventSetWait_v2: "&lt;gpu index&gt; &lt;type&gt; &lt;data&gt;".</summary>
    public void InjectEvent(int gpuIndex, ulong type, ulong data) =>
        File.AppendAllText(EventsPath, $"{gpuIndex} 0x{type:x} {data}\n");

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
