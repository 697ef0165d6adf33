using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using AiFactory.Agent.Gpu;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Nvml;
using AiFactory.Host.Model.Gpu;

namespace AiFactory.Profile.Tests.Mig;

/// <summary>Every test that loads the fake libnvidia-ml: one library per process, so they run one at a time.</summary>
[CollectionDefinition("fake-nvml", DisableParallelization = true)]
public sealed class FakeNvmlCollection;

/// <summary>
/// A simulated GPU server for the profile's MIG: a copy of <c>hardware-fixtures/&lt;name&gt;/nvml.json</c> (edited per
/// test), a sysfs tree with one reset file per GPU, a procfs tree for process names, and the agent's own NVML layer
/// (<see cref="GpuNvml"/>, <see cref="MigApplier"/>) opened on the fake libnvidia-ml (tests/fake-nvml).
/// </summary>
internal sealed partial class FakeNvmlServer : IDisposable
{
    private static readonly Lazy<string> Library = new(FindOrBuildLibrary);

    public FakeNvmlServer(string fixture, Action<JsonObject>? edit = null)
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
        SetEnv("FAKE_NVML_STATE", Path.Combine(Root, "nvml.json"), 1);
        SetEnv("FAKE_NVML_MIG_STATE", Path.Combine(Root, "mig.state"), 1);
        SetEnv("FAKE_NVML_EVENTS", Path.Combine(Root, "events"), 1);
        SetEnv("FAKE_NVML_SYSFS_ROOT", SysfsRoot, 1);
        Nvml = new GpuNvml(Library.Value, SysfsRoot);
        Assert.True(Nvml.Nvml is not null, Nvml.Error);
        Inventory = new GpuInventory(Nvml, new GpuHealthRegistry());
        Applier = new MigApplier(Nvml, Inventory);
        Mig = new ProfileMig(Nvml, Inventory, Applier, ProcfsRoot);
    }

    public static string RepoRoot { get; } = FindRepoRoot();

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

    /// <summary>AIFACTORY_FAKE_NVML from tests/setup.d/40-fake-nvml.sh, or the fake compiled here with gcc.</summary>
    private static string FindOrBuildLibrary()
    {
        string? fromSetup = Environment.GetEnvironmentVariable("AIFACTORY_FAKE_NVML");
        if (!string.IsNullOrEmpty(fromSetup) && File.Exists(fromSetup))
        {
            return fromSetup;
        }

        string dir = Path.Combine(Path.GetTempPath(), "aifactory-profile-mig", "lib-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        string output = Path.Combine(dir, "libnvidia-ml.so.1");
        string src = Path.Combine(RepoRoot, "tests/fake-nvml");
        using var gcc = Process.Start(new ProcessStartInfo("gcc", ["-std=c11", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-o", output, Path.Combine(src, "fake_nvml.c"), Path.Combine(src, "json.c"), "-lpthread"])
        {
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("cannot start gcc: run tests/setup.d/40-fake-nvml.sh");
        string errors = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        return gcc.ExitCode == 0 ? output : throw new InvalidOperationException("gcc failed building the fake libnvidia-ml: " + errors);
    }

    private static string FindRepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Join(dir, "AiFactory.Agent.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
