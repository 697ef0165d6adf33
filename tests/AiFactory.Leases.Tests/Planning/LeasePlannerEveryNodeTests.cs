using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>
/// The GPUs' node is chosen by GPU count first (best fit); when the vCPUs or memory do not fit there, the planner
/// tries every other node with the GPUs taken from it before it refuses.
/// </summary>
public sealed class LeasePlannerEveryNodeTests
{
    private const long GiB = 1L << 30;

    [Fact]
    public void A_gpu_lease_whose_pages_are_gone_on_the_best_fit_node_goes_to_a_node_that_has_them()
    {
        // The DGX has 4096 2M pages (8 GiB) per node. Two 1-GPU leases of 4 GiB in 2M pages take node 0's (best fit
        // keeps node 1's four GPUs whole); node 0 still has the fewer free GPUs, so best fit alone picks it again.
        HostTopology dgx = Topologies.DgxH100;
        CpuSet reserved = LeaseTestHost.LastCores(dgx);
        var small = new LeaseRequest { Owner = "t", Gpus = new GpuRequest(1), Vcpus = 2, MemoryBytes = 4 * GiB, PageSize = PageSize.Huge2M };
        var current = new List<LeasePlan>();
        for (int i = 0; i < 2; i++)
        {
            PlanResult r = LeasePlanner.Plan(new PlanningContext(dgx, current, reserved), small);
            Assert.True(r.Succeeded, r.Refusal?.ToString());
            Assert.Equal(0, Assert.Single(r.Plan!.Nodes).Node);
            current.Add(r.Plan);
        }

        var request = new LeaseRequest { Owner = "t", Gpus = new GpuRequest(1), Vcpus = 6, MemoryBytes = 4 * GiB, PageSize = PageSize.Huge2M };

        PlanResult result = LeasePlanner.Plan(new PlanningContext(dgx, current, reserved), request);

        Assert.True(result.Succeeded, result.Refusal?.ToString());
        NodeAllocation node = Assert.Single(result.Plan!.Nodes);
        Assert.Equal(1, node.Node);
        Assert.Equal(4 * GiB, node.MemoryBytes);
        Assert.All(result.Plan.Devices.Where(d => d.Role == DeviceRole.Gpu), d => Assert.Equal(1, d.NumaNode));
        Assert.Empty(result.Plan.Spill);
    }

    [Fact]
    public void When_no_node_can_hold_it_the_refusal_is_the_best_fit_nodes()
    {
        HostTopology dgx = Topologies.DgxH100;
        var request = new LeaseRequest { Owner = "t", Gpus = new GpuRequest(1), Vcpus = 2, MemoryBytes = 9 * GiB, PageSize = PageSize.Huge2M };

        PlanResult result = LeasePlanner.Plan(new PlanningContext(dgx, [], LeaseTestHost.LastCores(dgx)), request);

        Assert.Equal(RefusalKind.Insufficient, result.Refusal?.Kind);
        Assert.Equal("memory", result.Refusal!.Field);
        Assert.Equal(0, result.Refusal.Node);
    }

    public static TheoryData<string> TopologyNames => new() { "dgx-h100", "four-socket", "nic-on-other-socket", "hgx-a100" };

    private static HostTopology ByName(string name) => name switch
    {
        "dgx-h100" => Topologies.DgxH100,
        "four-socket" => Topologies.FourSocket,
        "nic-on-other-socket" => Topologies.NicOnOtherSocket,
        _ => FixtureTopologies.Load(name),
    };

    /// <summary>
    /// Property: along random sequences of grants and releases, a request refused for want of resources is also
    /// refused on every single node, asked with only that node's GPUs offered (the others marked unhealthy). So no
    /// request is refused while one node could hold it.
    /// </summary>
    [Theory]
    [MemberData(nameof(TopologyNames))]
    public void Nothing_is_refused_that_one_node_could_hold(string name)
    {
        HostTopology topology = ByName(name);
        CpuSet reserved = LeaseTestHost.LastCores(topology);
        List<PciDevice> gpus = [.. topology.PciDevices.Where(d => d.Kind == DeviceKind.Gpu && !d.IsVirtualFunction)];
        List<int> nodes = [.. topology.NumaNodes.Where(n => n.HasCpus).Select(n => n.Id)];
        PageSize[] sizes = [.. new[] { PageSize.Small4K, PageSize.Huge2M, PageSize.Huge1G }
            .Where(s => s == PageSize.Small4K || topology.NumaNodes.Any(n => n.Hugepages.Any(p => p.PageSizeKiB * 1024L == s.Bytes() && p.Total > 0)))];
        int refused = 0;
        int checkedNodes = 0;
        for (int seed = 0; seed < 60; seed++)
        {
            var random = new Random(seed);
            var current = new List<LeasePlan>();
            for (int step = 0; step < 16; step++)
            {
                if (current.Count > 0 && random.Next(4) == 0)
                {
                    current.RemoveAt(random.Next(current.Count));
                    continue;
                }

                PageSize size = sizes[random.Next(sizes.Length)];
                long pageBytes = size.Bytes();
                long memory = Math.Max(pageBytes, random.Next(1, 96) * GiB / pageBytes * pageBytes);
                var request = new LeaseRequest
                {
                    Owner = "t",
                    Gpus = new GpuRequest(random.Next(1, 3)),
                    Vcpus = random.Next(1, 40),
                    ThreadPolicy = (CpuThreadPolicy)random.Next(3),
                    EmulatorThreads = random.Next(2) == 0 ? EmulatorThreadPolicy.Share : EmulatorThreadPolicy.Isolate,
                    MemoryBytes = memory,
                    PageSize = size,
                };
                PlanResult result = LeasePlanner.Plan(new PlanningContext(topology, current, reserved), request);
                if (result.Plan is { } plan)
                {
                    current.Add(plan);
                    continue;
                }

                if (result.Refusal!.Kind != RefusalKind.Insufficient)
                {
                    continue;
                }

                refused++;
                foreach (int node in nodes)
                {
                    HashSet<PciAddress> elsewhere = [.. gpus.Where(g => g.NumaNode != node).Select(g => g.Address)];
                    PlanResult single = LeasePlanner.Plan(new PlanningContext(topology, current, reserved, UnhealthyGpus: elsewhere), request);
                    Assert.False(single.Succeeded, $"{name} seed {seed} step {step}: refused ({result.Refusal}), but node {node} alone holds it");
                    checkedNodes++;
                }
            }
        }

        Assert.True(refused > 20, $"{name}: only {refused} refusals: the generator tests little");
        Assert.True(checkedNodes >= refused * nodes.Count);
    }
}
