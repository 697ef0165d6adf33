using AiFactory.Agent.Events;
using AiFactory.Agent.Profile;
using AiFactory.Host.Hardware.Configure;
using AiFactory.Host.Hardware.Systemd;
using AiFactory.Host.Hardware.Vfio;
using AiFactory.Host.Model.Profile;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Profile;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiFactory.Benchmarks.Profile;

/// <summary>
/// The profile's speed goals: planning a full DGX-class profile (8 GPUs to vfio-pci, 8 PFs × 8 VFs, hugepages on
/// two nodes) ≤ 1 ms; a no-op re-apply (read the state from sysfs, plan, apply nothing) ≤ 5 ms with zero writes.
/// Run: dotnet run -c Release --project tests/AiFactory.Benchmarks -- --filter '*ProfileBenchmarks*' --job short --inProcess
/// </summary>
[MemoryDiagnoser]
public class ProfileBenchmarks
{
    private DgxProfileTree _tree = null!;
    private NodeProfile _profile = null!;
    private HostTopology _topology = null!;
    private ProfileCurrentState _state = null!;
    private ProfileManager _manager = null!;
    private SysfsWriter _writer = null!;

    [GlobalSetup]
    public void Setup()
    {
        _tree = new DgxProfileTree();
        _profile = ProfileYaml.Parse(DgxProfileTree.Profile);
        var reader = new ProfileStateReader(new SysfsTree(_tree.Root), null);
        _topology = reader.ReadTopology();
        _state = reader.ReadState(_profile);
        _writer = new SysfsWriter(_tree.Root);
        string state = Path.Join(Path.GetDirectoryName(_tree.Root)!, "state");
        foreach (byte bus in DgxProfileTree.GpuBuses)
        {
            // The boot-time overrides a first apply persists: the tree already holds the whole profile.
            VfioOverrideFiles.Write(Path.Join(state, "vfio-overrides.d"), AiFactory.Host.Model.Pci.PciAddress.Parse($"0000:{bus:x2}:00.0"), "vfio-pci");
        }

        _manager = new ProfileManager(
            new ProfileEnvironment
            {
                Sysfs = new SysfsTree(_tree.Root),
                SysfsWriter = _writer,
                StateDir = state,
                Groups = new VfioGroupProbe(Path.Join(state, "dev")),
                Systemctl = new Systemctl("/bin/false"),
                Modules = new ModuleLoader("/bin/false"),
                VfioOverridesDir = Path.Join(state, "vfio-overrides.d"),
                ConfigProfilePath = Path.Join(state, "none.yaml"),
            },
            new EventBus(),
            NullLogger<ProfileManager>.Instance);
        ProfilePlan plan = _manager.Plan(DgxProfileTree.Profile).Plan;
        if (!plan.IsNoOp || !ProfilePlanner.Plan(_topology, _state, _profile).IsNoOp)
        {
            throw new InvalidOperationException("the DGX tree should already hold the profile: " + string.Join("; ", plan.Steps.Select(s => s.Describe()).Concat(plan.Errors.Select(e => e.ToString()))));
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_writer.WriteCount != 0)
        {
            throw new InvalidOperationException($"a no-op re-apply wrote {_writer.WriteCount} times");
        }

        _tree.Dispose();
    }

    /// <summary>The pure planner on an already-read DGX topology.</summary>
    [Benchmark]
    public int PlanDgxProfile() => ProfilePlanner.Plan(_topology, _state, _profile).Steps.Count;

    /// <summary>What ApplyProfile does when the profile holds: parse, read sysfs, plan, apply nothing.</summary>
    [Benchmark]
    public int NoOpReapplyDgxProfile() => _manager.Apply(DgxProfileTree.Profile, "bench").Report.Writes;
}
