using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>
/// Thousands of random allocate/release sequences on every named topology: the invariants (no overlap, on the
/// stated NUMA nodes unless spill was allowed, capacity accounting exact) hold after every step. Seeded, so a
/// failure names a sequence that replays.
/// </summary>
public sealed class LeasePlannerPropertyTests
{
    private const long GiB = 1L << 30;

    public static TheoryData<string> TopologyNames => new() { "dgx-h100", "four-socket", "gh200", "workstation" };

    private static HostTopology ByName(string name) => name switch
    {
        "dgx-h100" => Topologies.DgxH100,
        "four-socket" => Topologies.FourSocket,
        "gh200" => Topologies.Gh200,
        _ => Topologies.Workstation,
    };

    [Theory]
    [MemberData(nameof(TopologyNames))]
    public void Random_allocate_and_release_sequences_never_break_an_invariant(string name)
    {
        HostTopology topology = ByName(name);
        CpuSet reserved = CpuSet.Of(topology.NumaNodes.Where(n => n.HasCpus).Select(n => n.Cpus.First()));
        int planned = 0;
        for (int seed = 0; seed < 500; seed++)
        {
            var random = new Random(seed);
            var current = new List<LeasePlan>();
            for (int step = 0; step < 24; step++)
            {
                if (current.Count > 0 && random.Next(3) == 0)
                {
                    current.RemoveAt(random.Next(current.Count));
                }
                else
                {
                    LeaseRequest request = RandomRequest(random);
                    PlanResult result = LeasePlanner.Plan(new PlanningContext(topology, current, reserved), request);
                    if (result.Plan is { } plan)
                    {
                        AssertPlanKeepsItsPromises(topology, request, plan, $"{name} seed {seed} step {step}");
                        current.Add(plan);
                        planned++;
                    }
                    else
                    {
                        Assert.NotEmpty(result.Refusal!.Field);
                    }
                }

                AssertInvariants(topology, reserved, current, $"{name} seed {seed} step {step}");
            }
        }

        Assert.True(planned > 500, $"only {planned} plans succeeded: the generator is too greedy to test much");
    }

    private static LeaseRequest RandomRequest(Random r)
    {
        PageSize page = (PageSize)r.Next(3);
        long unit = page == PageSize.Small4K ? GiB : page.Bytes();
        long memory = page == PageSize.Huge2M ? r.Next(1, 2048) * unit : r.Next(1, 200) * Math.Max(unit, GiB);
        return new LeaseRequest
        {
            Owner = "prop",
            Gpus = r.Next(3) == 0 ? new GpuRequest(r.Next(1, 5)) : null,
            Vfs = r.Next(4) == 0 ? new VfRequest(r.Next(1, 4), PairWithGpus: r.Next(2) == 0) : null,
            Vcpus = r.Next(1, 48),
            ThreadPolicy = (CpuThreadPolicy)r.Next(3),
            EmulatorThreads = (EmulatorThreadPolicy)r.Next(2),
            MemoryBytes = memory,
            PageSize = page,
            NumaPolicy = (NumaPolicy)r.Next(2),
        };
    }

    private static void AssertPlanKeepsItsPromises(HostTopology topology, LeaseRequest request, LeasePlan plan, string where)
    {
        Assert.True(request.Vcpus == plan.VcpuPins.Count, $"{where}: {plan.VcpuPins.Count} vCPUs for {request.Vcpus}");
        Assert.True(request.MemoryBytes == plan.MemoryBytes, $"{where}: memory {plan.MemoryBytes} for {request.MemoryBytes}");
        Assert.Equal(request.Gpus?.Count ?? 0, plan.Devices.Count(d => d.Role == DeviceRole.Gpu));
        Assert.Equal(request.Vfs?.Count ?? 0, plan.Devices.Count(d => d.Role == DeviceRole.VirtualFunction));
        foreach (NodeAllocation n in plan.Nodes)
        {
            CpuSet nodeCpus = topology.NumaNodes.Single(x => x.Id == n.Node).Cpus;
            Assert.True(CpuSet.Of(n.VcpuCpus).Union(n.ReservedSiblings).IsSubsetOf(nodeCpus), $"{where}: CPUs of cell on node {n.Node} are not on that node");
        }

        if (request.NumaPolicy == NumaPolicy.Required)
        {
            Assert.True(plan.Spill.Count == 0, $"{where}: spill under numa policy required");
        }

        HashSet<int> deviceNodes = [.. plan.Devices.Where(d => d.Role != DeviceRole.IommuCompanion && d.NumaNode is not null)
            .Select(d => topology.NumaNodes.Single(x => x.Id == d.NumaNode).HasCpus ? d.NumaNode!.Value : 0)];
        if (plan.Spill.Count == 0 && deviceNodes.Count > 0)
        {
            Assert.True(plan.Nodes.All(n => deviceNodes.Contains(n.Node)), $"{where}: a cell off the devices' nodes without a stated spill");
        }

        if (request.ThreadPolicy != CpuThreadPolicy.Prefer)
        {
            // Whole cores: no vCPU CPU shares its core with anything outside this lease.
            CpuSet claimed = plan.ClaimedCpus;
            foreach (int cpu in plan.VcpuPins)
            {
                CpuSet core = topology.Cpus.Cpus.Single(c => c.Id == cpu).ThreadSiblings;
                Assert.True(core.IsSubsetOf(claimed), $"{where}: core of CPU {cpu} is not wholly held under {request.ThreadPolicy}");
            }
        }
    }

    private static void AssertInvariants(HostTopology topology, CpuSet reserved, List<LeasePlan> current, string where)
    {
        var devices = new HashSet<PciAddress>();
        CpuSet claimed = CpuSet.Empty;
        var used = new Dictionary<(int, PageSize), long>();
        foreach (LeasePlan p in current)
        {
            foreach (LeasedDevice d in p.Devices)
            {
                Assert.True(devices.Add(d.Address), $"{where}: device {d.Address} leased twice");
            }

            Assert.False(p.ClaimedCpus.Overlaps(claimed), $"{where}: CPUs {p.ClaimedCpus.Intersect(claimed)} leased twice");
            Assert.False(p.ClaimedCpus.Overlaps(reserved), $"{where}: host-reserved CPU leased");
            claimed = claimed.Union(p.ClaimedCpus);
            foreach (NodeAllocation n in p.Nodes)
            {
                used[(n.Node, p.PageSize)] = used.GetValueOrDefault((n.Node, p.PageSize)) + n.MemoryBytes;
            }
        }

        var context = new PlanningContext(topology, current, reserved);
        var usage = new HostUsage(context);
        foreach (((int node, PageSize size), long bytes) in used)
        {
            Assert.True(bytes <= usage.CapacityBytes(node, size), $"{where}: node {node} {size} over capacity");
            Assert.Equal(usage.CapacityBytes(node, size) - bytes, usage.FreeBytes(node, size));
        }

        Fragmentation f = LeasePlanner.MeasureFragmentation(context);
        Assert.Equal(topology.Cpus.Online.Except(reserved).Except(claimed).Count, f.FreeCpus);
        int gpus = topology.PciDevices.Count(d => d.Kind == DeviceKind.Gpu);
        Assert.Equal(gpus - current.Sum(p => p.Devices.Count(d => d.Role == DeviceRole.Gpu)), f.FreeWholeGpus);
    }
}
