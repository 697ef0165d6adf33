using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Planning.Leases;
using AiFactory.Leases.Tests.Planning;
using BenchmarkDotNet.Attributes;

namespace AiFactory.Benchmarks.Leases;

/// <summary>
/// Planning a 4-GPU + 4-VF + 64-vCPU + 256 GiB-in-1G-pages lease on the 224-CPU DGX H100 topology (goal: ≤ 200 µs
/// median), on an empty host and on one already holding three leases.
/// Run: <c>dotnet run -c Release --project tests/AiFactory.Benchmarks -- --filter '*LeasePlanner*'</c>.
/// </summary>
[MemoryDiagnoser]
public class LeasePlannerBenchmarks
{
    private static readonly LeaseRequest Big = new()
    {
        Owner = "bench",
        Gpus = new GpuRequest(4),
        Vfs = new VfRequest(4),
        Vcpus = 64,
        MemoryBytes = 256L << 30,
        PageSize = PageSize.Huge1G,
    };

    private PlanningContext _empty = null!;
    private PlanningContext _busy = null!;

    [GlobalSetup]
    public void Setup()
    {
        CpuSet reserved = CpuSet.Parse("0-1,112-113");
        _empty = new PlanningContext(Topologies.DgxH100, [], reserved);
        var current = new List<LeasePlan>();
        foreach (int gpus in new[] { 1, 2, 1 })
        {
            LeaseRequest small = Big with { Gpus = new GpuRequest(gpus), Vfs = null, Vcpus = 16, MemoryBytes = 64L << 30 };
            current.Add(LeasePlanner.Plan(new PlanningContext(Topologies.DgxH100, current, reserved), small).Plan!);
        }

        _busy = _empty with { Current = current };
        if (!LeasePlanner.Plan(_busy, Big).Succeeded || !LeasePlanner.Plan(_empty, Big).Succeeded)
        {
            throw new InvalidOperationException("the benchmark lease does not fit");
        }
    }

    [Benchmark(Baseline = true)]
    public LeasePlan? PlanOnEmptyHost() => LeasePlanner.Plan(_empty, Big).Plan;

    [Benchmark]
    public LeasePlan? PlanBesideThreeLeases() => LeasePlanner.Plan(_busy, Big).Plan;
}
