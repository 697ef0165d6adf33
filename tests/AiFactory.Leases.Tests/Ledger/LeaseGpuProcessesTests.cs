using AiFactory.Contracts.Agent.V1;
using AiFactory.Grpc;
using AiFactory.Host.Model.Pci;
using AiFactory.Leases.Tests.Planning;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Leases.Tests.Ledger;

/// <summary>
/// A whole GPU is unbound from its driver when leased: one NVML reports compute processes on is not leased (as the node
/// profile's vfio section refuses it), and a grant NVML could not check says so.
/// </summary>
public sealed class LeaseGpuProcessesTests
{
    private const ulong GiB = 1UL << 30;

    private static readonly List<PciAddress> Gpus = [.. Topologies.DgxH100.PciDevices.Where(d => d.Kind == DeviceKind.Gpu && !d.IsVirtualFunction).Select(d => d.Address).Order()];

    private static CreateLeaseRequest Ask(uint gpus, bool dryRun = false) => new()
    {
        Spec = new LeaseSpec { Owner = "tenant", GpuCount = gpus, Vcpus = 4, MemoryBytes = 4 * GiB },
        DryRun = dryRun,
    };

    [Fact]
    public void A_lease_is_refused_with_failed_precondition_naming_the_pids_when_every_free_gpu_runs_processes()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Host.GpuProcesses = Gpus.ToDictionary(g => g, IReadOnlyList<string> (_) => ["PID 4242 (python3)"]);

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.Lease(Ask(gpus: 1)));
        RpcException dry = Assert.Throws<RpcException>(() => host.Service.Lease(Ask(gpus: 1, dryRun: true)));

        Assert.Equal(StatusCode.FailedPrecondition, ex.StatusCode);
        Assert.StartsWith("spec.gpu_count: 1 asked, 0 free (node 0: 0 of 4, node 1: 0 of 4); 8 in use by processes (0000:18:00.0: PID 4242 (python3); ", ex.Detail, StringComparison.Ordinal);
        Assert.EndsWith("): stop them before the GPU is leased (it is unbound from its driver)", ex.Detail, StringComparison.Ordinal);
        Assert.Equal(ex.Detail, dry.Detail);
        Assert.Equal(StatusCode.FailedPrecondition, dry.StatusCode);
        Assert.Empty(host.Binder.Calls);
        Assert.Empty(host.Service.ListLeases(new ListLeasesRequest { IncludeEnded = true }).Leases);
    }

    [Fact]
    public void A_gpu_running_processes_is_passed_over_for_an_idle_one()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Host.GpuProcesses = new Dictionary<PciAddress, IReadOnlyList<string>> { [Gpus[0]] = ["PID 4242 (python3)", "PID 4243"] };

        Wire.Lease seven = host.Service.Lease(Ask(gpus: 7));
        RpcException eighth = Assert.Throws<RpcException>(() => host.Service.Lease(Ask(gpus: 1)));

        Assert.DoesNotContain(seven.Devices, d => d.Address == Gpus[0].ToString());
        Assert.Equal(StatusCode.FailedPrecondition, eighth.StatusCode);
        Assert.Contains($"1 in use by processes ({Gpus[0]}: PID 4242 (python3), PID 4243)", eighth.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_few_gpus_besides_the_busy_ones_is_a_shortage_that_still_names_the_processes()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Service.Lease(Ask(gpus: 4));
        host.Host.GpuProcesses = new Dictionary<PciAddress, IReadOnlyList<string>> { [Gpus[7]] = ["PID 4242"] };

        RpcException ex = Assert.Throws<RpcException>(() => host.Service.Lease(Ask(gpus: 5)));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Contains($"1 in use by processes ({Gpus[7]}: PID 4242)", ex.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_grant_nvml_could_not_check_goes_ahead_with_a_warning_event()
    {
        using var host = new LeaseTestHost(Topologies.DgxH100);
        host.Host.GpuProcessesUnavailable = "NVML is not available (libnvidia-ml.so.1: cannot open shared object file)";

        Wire.Lease lease = host.Service.Lease(Ask(gpus: 1));

        Assert.Equal(Wire.LeaseState.Active, lease.State);
        Event warning = Assert.Single(host.Events.Recent(), e => e.Kind == "lease.unchecked");
        Assert.Equal(EventSeverity.Warning, warning.Severity);
        Assert.Equal(
            $"lease {lease.Id}: GPU(s) {lease.Devices.Single(d => d.Role == LeasedDeviceRole.Gpu).Address} were not checked for running compute processes before they were leased: " +
            "NVML is not available (libnvidia-ml.so.1: cannot open shared object file)",
            warning.Message);
    }

    [Fact]
    public void Without_NVML_the_warning_is_logged_once_while_every_lease_gets_its_event()
    {
        var logger = new AiFactory.Tests.Shared.RecordingLogger<AiFactory.Agent.Leases.LeaseService>();
        using var host = new LeaseTestHost(Topologies.DgxH100, logger: logger);
        host.Host.GpuProcessesUnavailable = "NVML is not available (libnvidia-ml.so.1: cannot open shared object file)";

        host.Service.Lease(Ask(gpus: 1));
        host.Service.Lease(Ask(gpus: 1));
        host.Service.Lease(Ask(gpus: 1));

        Assert.Single(logger.Entries, e => e.Message.Contains("were not checked for running compute processes", StringComparison.Ordinal));
        Assert.Equal(3, host.Events.Recent().Count(e => e.Kind == "lease.unchecked"));

        // Once NVML answers again, a later loss is logged again.
        host.Host.GpuProcessesUnavailable = null;
        host.Service.Lease(Ask(gpus: 1));
        host.Host.GpuProcessesUnavailable = "NVML_ERROR_GPU_IS_LOST";
        host.Service.Lease(Ask(gpus: 1));

        Assert.Equal(2, logger.Entries.Count(e => e.Message.Contains("were not checked for running compute processes", StringComparison.Ordinal)));
    }
}
