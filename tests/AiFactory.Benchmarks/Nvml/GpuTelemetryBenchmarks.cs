using System.Runtime.InteropServices;
using AiFactory.Agent.Gpu;
using AiFactory.Host.Hardware.Nvml;
using BenchmarkDotNet.Attributes;

namespace AiFactory.Benchmarks.Nvml;

/// <summary>
/// A telemetry poll of 8 H100s with 7 MIG instances each (56) against the fake libnvidia-ml, batched
/// (nvmlDeviceGetFieldValues, cached profile table) and unbatched. NVML calls per poll are printed by
/// <see cref="CountCalls"/> (run with --filter '*GpuTelemetry*'); set AIFACTORY_FAKE_NVML to the built fake.
/// </summary>
[MemoryDiagnoser]
public partial class GpuTelemetryBenchmarks
{
    private GpuTelemetry _telemetry = null!;

    [GlobalSetup]
    public void Setup()
    {
        string root = Path.Combine(Path.GetTempPath(), "aifactory-bench-" + Environment.ProcessId);
        Directory.CreateDirectory(root);
        string state = Path.Combine(root, "nvml.json");
        File.WriteAllText(state, File.ReadAllText(Path.Combine(BenchmarkPaths.RepoRoot, "hardware-fixtures/dgx-h100/nvml.json")).Replace("\"migMode\": false", "\"migMode\": true", StringComparison.Ordinal));
        SetEnv("FAKE_NVML_STATE", state, 1);
        SetEnv("FAKE_NVML_MIG_STATE", Path.Combine(root, "mig.state"), 1);
        string library = Environment.GetEnvironmentVariable("AIFACTORY_FAKE_NVML") ?? Path.Combine(BenchmarkPaths.RepoRoot, "artifacts/fake-nvml/libnvidia-ml.so.1");
        var nvml = new GpuNvml(library, Path.Combine(root, "sys"));
        var applier = new MigApplier(nvml, new GpuInventory(nvml, new GpuHealthRegistry()));
        for (int gpu = 0; gpu < 8; gpu++)
        {
            applier.Apply(gpu.ToString(System.Globalization.CultureInfo.InvariantCulture), Enumerable.Repeat("1g.10gb", 7).ToList(), keepExisting: false);
        }

        _telemetry = new GpuTelemetry(nvml.Require());
        _telemetry.Poll(); // fills the profile-table cache, as a running agent has
        CountCalls(NvmlLibrary.Handle);
    }

    [Benchmark(Baseline = true, Description = "poll 8 GPUs / 56 MIG instances, batched")]
    public int Batched() => _telemetry.Poll().Sum(s => s.Instances.Count);

    [Benchmark(Description = "poll 8 GPUs / 56 MIG instances, one call per value")]
    public int Unbatched() => _telemetry.PollUnbatched().Sum(s => s.Instances.Count);

    private unsafe void CountCalls(nint library)
    {
        var count = (delegate* unmanaged<byte*, ulong>)NativeLibrary.GetExport(library, "fakeNvmlCallCount");
        var reset = (delegate* unmanaged<void>)NativeLibrary.GetExport(library, "fakeNvmlResetCallCounts");
        reset();
        int instances = _telemetry.Poll().Sum(s => s.Instances.Count);
        ulong batched = count(null);
        reset();
        _telemetry.PollUnbatched();
        ulong unbatched = count(null);
        string line = $"NVML calls per poll (8 GPUs, {instances} MIG instances): batched {batched}, unbatched {unbatched}";
        Console.WriteLine(line);
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "aifactory-nvml-calls.txt"), line + Environment.NewLine);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
