using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;

namespace AiFactory.Leases.Tests.Planning;

/// <summary>Which GPUs a request may take: health, MIG mode, and the names <c>--gpu-model</c> accepts.</summary>
public sealed class LeasePlannerGpuChoiceTests
{
    private static readonly PciAddress Gpu0 = PciAddress.Parse("0000:18:00.0");

    private static LeaseRequest Gpus(int count, string? model = null) => new()
    {
        Owner = "tenant-a",
        Gpus = new GpuRequest(count, model),
        Vcpus = 2,
        MemoryBytes = 2L << 30,
    };

    private static PlanningContext Context(HostTopology topology, IReadOnlySet<PciAddress>? unhealthy = null, IReadOnlyList<MigCapacity>? mig = null, IReadOnlyDictionary<PciAddress, string>? names = null) =>
        new(topology, [], LeaseTestHost.LastCores(topology), mig, UnhealthyGpus: unhealthy, GpuNames: names);

    [Fact]
    public void An_unhealthy_gpu_is_never_leased()
    {
        var unhealthy = new HashSet<PciAddress> { Gpu0 };

        LeasePlan plan = LeasePlanner.Plan(Context(Topologies.DgxH100, unhealthy), Gpus(1)).Plan!;
        LeasePlan four = LeasePlanner.Plan(Context(Topologies.DgxH100, unhealthy), Gpus(4)).Plan!;

        Assert.NotEqual(Gpu0, plan.Devices[0].Address);
        Assert.DoesNotContain(four.Devices, d => d.Address == Gpu0);
        Assert.Equal(6, plan.FragmentationAfter.FreeWholeGpus);
    }

    [Fact]
    public void A_request_that_fails_because_of_unhealthy_gpus_says_how_many()
    {
        var unhealthy = new HashSet<PciAddress> { Gpu0 };

        LeaseRefusal refusal = LeasePlanner.Plan(Context(Topologies.DgxH100, unhealthy), Gpus(8)).Refusal!;

        Assert.Equal(RefusalKind.Insufficient, refusal.Kind);
        Assert.Equal("8 asked, 7 free (node 0: 3 of 4, node 1: 4 of 4); 1 unhealthy (0000:18:00.0): see aifactoryctl gpu list", refusal.Message);
    }

    [Fact]
    public void Mig_capacity_on_an_unhealthy_gpu_is_not_offered()
    {
        MigCapacity[] capacity = [new(Gpu0, "1g.10gb", [(0, 1), (1, 1)]), new(PciAddress.Parse("0000:2a:00.0"), "1g.10gb", [(0, 1), (1, 1), (2, 1)])];
        LeaseRequest mig = Gpus(1) with { Gpus = null, Mig = new MigRequest("1g.10gb") };

        LeasePlan plan = LeasePlanner.Plan(Context(Topologies.DgxH100, new HashSet<PciAddress> { Gpu0 }, capacity), mig).Plan!;
        LeaseRefusal refusal = LeasePlanner.Plan(Context(Topologies.DgxH100, new HashSet<PciAddress> { Gpu0 }, capacity[..1]), mig).Refusal!;

        Assert.Equal(PciAddress.Parse("0000:2a:00.0"), plan.Mig!.Gpu);
        Assert.Equal(RefusalKind.Insufficient, refusal.Kind);
        Assert.Contains("1 unhealthy", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_whole_gpu_refused_because_the_gpu_is_in_mig_mode_says_so()
    {
        PciAddress a100 = Topologies.FourSocket.PciDevices.First(d => d.Kind == DeviceKind.Gpu).Address;
        MigCapacity[] capacity = [.. Topologies.FourSocket.PciDevices.Where(d => d.Kind == DeviceKind.Gpu).Select(d => new MigCapacity(d.Address, "1g.10gb", [(0, 1)]))];

        LeaseRefusal refusal = LeasePlanner.Plan(Context(Topologies.FourSocket, mig: capacity), Gpus(1)).Refusal!;

        Assert.StartsWith("1 asked, 0 free (", refusal.Message, StringComparison.Ordinal);
        Assert.Contains($"; 4 in MIG mode ({a100}, ", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("--mig", refusal.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("H100 SXM5")]
    [InlineData("NVIDIA H100 80GB HBM3")]
    [InlineData("nvidia h100 80gb hbm3")]
    [InlineData("10de:2330")]
    [InlineData("10DE:2330")]
    [InlineData("0x2330")]
    public void The_gpu_model_may_be_the_pci_ids_name_the_nvml_name_or_the_pci_id(string model)
    {
        Dictionary<PciAddress, string> names = Topologies.DgxH100.PciDevices.Where(d => d.Kind == DeviceKind.Gpu).ToDictionary(d => d.Address, _ => "NVIDIA H100 80GB HBM3");

        PlanResult result = LeasePlanner.Plan(Context(Topologies.DgxH100, names: names), Gpus(2, model));

        Assert.True(result.Succeeded, result.Refusal?.ToString());
    }

    [Fact]
    public void An_unknown_model_is_refused_listing_every_name_the_host_accepts()
    {
        Dictionary<PciAddress, string> names = Topologies.DgxH100.PciDevices.Where(d => d.Kind == DeviceKind.Gpu).ToDictionary(d => d.Address, _ => "NVIDIA H100 80GB HBM3");

        LeaseRefusal refusal = LeasePlanner.Plan(Context(Topologies.DgxH100, names: names), Gpus(1, "B200")).Refusal!;

        Assert.Equal("gpus.model", refusal.Field);
        Assert.Equal("no GPU matches \"B200\"; this host has: \"H100 SXM5 80GB\" / \"NVIDIA H100 80GB HBM3\" / 10de:2330", refusal.Message);
    }
}
