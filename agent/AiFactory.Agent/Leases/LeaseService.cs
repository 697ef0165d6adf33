using System.Globalization;
using AiFactory.Agent.Events;
using AiFactory.Grpc;
using AiFactory.Grpc.Services;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Topology;
using AiFactory.Host.Planning.Leases;
using Microsoft.Extensions.Logging;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Leases;

/// <summary>
/// <c>aifactory.agent.v1.Leases</c>: Lease, Release, GetLease, ListLeases, AttachLease. Plans with the pure
/// <see cref="LeasePlanner"/> inside the ledger's lock, binds devices through <see cref="ILeaseDeviceBinder"/> outside
/// it (the plan reserved meanwhile, see <see cref="LeaseLedger.Grant"/>), and
/// publishes <c>lease.created</c> / <c>lease.released</c> / <c>lease.expired</c> / <c>lease.attached</c> events.
/// </summary>
internal sealed partial class LeaseService
{
    public const string ServiceName = "aifactory.agent.v1.Leases";
    public const string DefaultLibvirtUri = "qemu:///system";

    /// <summary>The most one ListLeases page carries: 1 MiB, well under max-message-size (smaller in tests).</summary>
    internal int ListPageBytes { get; set; } = 1024 * 1024;

    private readonly LeaseLedger _ledger;
    private readonly ILeaseHost _host;
    private readonly ILeaseDeviceBinder _binder;
    private readonly ILibvirt _libvirt;
    private readonly LibvirtUris _libvirtUris;
    private readonly EventBus _events;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private string? _processesUncheckedLogged;

    // Serialises attaching with releasing and expiring (see LeaseService.Attach.cs): a lease is never attached to two
    // domains, and never released while an attach is starting its domain.
    private readonly Lock _attachGate = new();

    public LeaseService(LeaseLedger ledger, ILeaseHost host, ILeaseDeviceBinder binder, ILibvirt libvirt, EventBus events, TimeProvider time, ILogger<LeaseService> logger, LibvirtUris? libvirtUris = null)
    {
        _ledger = ledger;
        _host = host;
        _binder = binder;
        _libvirt = libvirt;
        _libvirtUris = libvirtUris ?? LibvirtUris.Default;
        _events = events;
        _time = time;
        _logger = logger;
        ScheduleExpiry();
    }

    public ServiceDefinition Definition() =>
        ServiceDefinition.CreateBuilder(ServiceName)
            .AddUnary<Wire.CreateLeaseRequest, Wire.Lease>("Lease", Wire.CreateLeaseRequest.Parser, (r, _) => Task.FromResult(Lease(r)))
            .AddUnary<Wire.ReleaseLeaseRequest, Wire.Lease>("Release", Wire.ReleaseLeaseRequest.Parser, (r, _) => Task.FromResult(Release(r)))
            .AddUnary<Wire.GetLeaseRequest, Wire.Lease>("GetLease", Wire.GetLeaseRequest.Parser, (r, _) => Task.FromResult(GetLease(r)))
            .AddUnary<Wire.ListLeasesRequest, Wire.ListLeasesResponse>("ListLeases", Wire.ListLeasesRequest.Parser, (r, _) => Task.FromResult(ListLeases(r)))
            .AddUnary<Wire.AttachLeaseRequest, Wire.AttachLeaseResponse>("AttachLease", Wire.AttachLeaseRequest.Parser, (r, _) => Task.FromResult(AttachLease(r)))
            .Build();

    public Wire.Lease Lease(Wire.CreateLeaseRequest request)
    {
        ExpireDue();
        (LeaseRequest lease, DateTimeOffset? expiresAt) = LeaseMessages.FromSpec(request.Spec, _time.GetUtcNow());
        HostTopology topology = _host.Topology ?? throw new RpcException(StatusCode.FailedPrecondition, "topology: hardware discovery has no host topology yet; leases cannot be planned");
        // One read of the node profile: the set checked is the set planned with.
        (CpuSet reserved, string? unknownReserved) = _host.ReadHostReservedCpus();
        if (unknownReserved is { } unknown)
        {
            throw new RpcException(StatusCode.FailedPrecondition, "cpus.reserved: " + unknown);
        }

        IReadOnlyList<MigCapacity> mig = _host.MigCapacity;
        IReadOnlySet<PciAddress> unhealthy = _host.UnhealthyGpus;
        IReadOnlyDictionary<PciAddress, string> names = _host.GpuNames;

        // Whole GPUs are unbound from their driver: one running compute processes is not leased (NVML asked once, here).
        (IReadOnlyDictionary<PciAddress, IReadOnlyList<string>> processes, string? processesUnknown) = lease.Gpus is not null
            ? _host.ReadGpuProcesses()
            : (StaticLeaseHost.NoProcesses, null);
        PlanResult Plan(IReadOnlyList<LeasePlan> current) =>
            WithOverrides(LeasePlanner.Plan(new PlanningContext(topology, current, reserved, mig, UnhealthyGpus: unhealthy, GpuNames: names, GpuProcesses: processes), lease), topology);

        if (request.DryRun)
        {
            PlanResult result = Plan([.. _ledger.List(includeEnded: false).Select(e => e.Lease.Plan)]);
            if (result.Refusal is { } refusal)
            {
                throw new RpcException(LeaseMessages.StatusOf(refusal.Kind), $"{LeaseMessages.WireField(refusal.Field)}: {refusal.Message}");
            }

            var preview = new Host.Model.Leases.Lease { Id = string.Empty, Owner = lease.Owner, CreatedAt = _time.GetUtcNow(), ExpiresAt = expiresAt, State = LeaseState.Active, Request = lease, Plan = result.Plan! };
            return LeaseMessages.ToWire(preview, request.Spec);
        }

        if (_ledger.Unacknowledged() is { } damaged)
        {
            throw new RpcException(StatusCode.FailedPrecondition, "ledger: " + damaged);
        }

        LeaseLedger.Entry entry;
        try
        {
            entry = _ledger.Grant(request.Spec, lease, expiresAt, Plan, _binder, a => topology.FindDevice(a)?.PhysicalFunction);
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.ResourceExhausted or StatusCode.InvalidArgument or StatusCode.FailedPrecondition)
        {
            LogRefused(_logger, lease.Owner, ex.Detail);
            throw;
        }

        if (processesUnknown is null)
        {
            if (lease.Gpus is not null)
            {
                Volatile.Write(ref _processesUncheckedLogged, null);
            }
        }
        else
        {
            string gpus = string.Join(", ", entry.Lease.Plan.Devices.Where(d => d.Role == DeviceRole.Gpu).Select(d => d.Address));

            // Logged once for as long as the reason stays the same (a node without NVML would log every GPU lease);
            // the event goes with each lease.
            if (Interlocked.Exchange(ref _processesUncheckedLogged, processesUnknown) != processesUnknown)
            {
                LogProcessesUnchecked(_logger, entry.Lease.Id, gpus, processesUnknown);
            }

            _events.Publish("lease.unchecked", Wire.EventSeverity.Warning, entry.Lease.Id,
                $"lease {entry.Lease.Id}: GPU(s) {gpus} were not checked for running compute processes before they were leased: {processesUnknown}");
        }

        if (expiresAt is not null)
        {
            ScheduleExpiry();
        }

        Wire.Lease wire = entry.ToWire();
        LogGranted(_logger, wire.Id, wire.Owner, string.Join(",", wire.Devices.Select(d => d.Address)), CpuSet.Of(entry.Lease.Plan.VcpuPins).ToString(), _binder.Description);
        Publish("lease.created", Wire.EventSeverity.Info, wire, $"lease {wire.Id} for {wire.Owner}: {wire.Devices.Count} device(s), {entry.Lease.Plan.VcpuPins.Count} vCPU(s), {entry.Lease.Plan.MemoryBytes >> 20} MiB");
        return wire;
    }

    public Wire.Lease Release(Wire.ReleaseLeaseRequest request)
    {
        if (string.IsNullOrEmpty(request.Id))
        {
            throw new RpcException(StatusCode.InvalidArgument, "id: is required");
        }

        Host.Model.Leases.Lease lease;
        string? runningDomain = null;
        lock (_attachGate)
        {
            // Under the attach gate: no attach of this lease can start its domain between the check and the mark.
            if (_ledger.Get(request.Id) is { Holds: true } entry && RunningDomain(entry.Lease) is { } running)
            {
                runningDomain = running.Name;
                if (!request.Force)
                {
                    throw new RpcException(StatusCode.FailedPrecondition, running.Why);
                }
            }

            lease = _ledger.BeginEnd(request.Id);
        }

        Wire.Lease wire = FinishEnd(lease, LeaseState.Released, request.Force);
        DetachFromDomain(lease);

        string how = runningDomain is null ? "released" : $"released with force while domain {runningDomain} was running";
        if (wire.NotRestored.Count > 0)
        {
            how += $"; not restored: {string.Join("; ", wire.NotRestored)}";
        }

        LogEnded(_logger, wire.Id, how);
        Publish("lease.released", runningDomain is null && wire.NotRestored.Count == 0 ? Wire.EventSeverity.Info : Wire.EventSeverity.Warning, wire, $"lease {wire.Id} of {wire.Owner} {how}");
        return wire;
    }

    public Wire.Lease GetLease(Wire.GetLeaseRequest request)
    {
        ExpireDue();
        if (string.IsNullOrEmpty(request.Id))
        {
            throw new RpcException(StatusCode.InvalidArgument, "id: is required");
        }

        return (_ledger.Get(request.Id) ?? throw new RpcException(StatusCode.NotFound, $"id: no lease \"{request.Id}\"")).ToWire();
    }

    public Wire.ListLeasesResponse ListLeases(Wire.ListLeasesRequest request)
    {
        ExpireDue();
        // One page at most ListPageBytes, whatever the ledger holds. next_page_token is the position of the page's last
        // lease in the listing's order (created, in the ledger's milliseconds, then id); the next page starts at the
        // first lease after it, so a token stays good when that lease has since ended and left the ledger.
        (long CreatedMs, string Id)? after = null;
        if (request.PageToken.Length > 0)
        {
            after = ParsePageToken(request.PageToken) ?? throw new RpcException(StatusCode.InvalidArgument,
                $"page_token: \"{LibvirtUris.Show(request.PageToken)}\" is not a next_page_token from ListLeases (expected <created unix ms>/<lease id>); list again from the start");
        }

        var response = new Wire.ListLeasesResponse();
        int bytes = 0;
        Host.Model.Leases.Lease? last = null;
        foreach (LeaseLedger.Entry entry in _ledger.List(request.IncludeEnded, request.Owner))
        {
            if (after is { } a && ComparePosition(entry.Lease, a.CreatedMs, a.Id) <= 0)
            {
                continue;
            }

            Wire.Lease lease = entry.ToWire();
            int size = lease.CalculateSize() + 8;
            if (response.Leases.Count > 0 && bytes + size > ListPageBytes)
            {
                response.NextPageToken = PageToken(last!);
                break;
            }

            response.Leases.Add(lease);
            bytes += size;
            last = entry.Lease;
        }

        return response;
    }

    /// <summary>A lease's position in <see cref="LeaseLedger.List"/>'s order as a page token: "&lt;created unix ms&gt;/&lt;id&gt;".</summary>
    internal static string PageToken(Host.Model.Leases.Lease lease) =>
        lease.CreatedAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) + "/" + lease.Id;

    /// <summary>The position a <see cref="PageToken"/> names, or null when <paramref name="token"/> is not one.</summary>
    internal static (long CreatedMs, string Id)? ParsePageToken(string token)
    {
        int slash = token.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == token.Length - 1 ||
            !long.TryParse(token.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out long ms))
        {
            return null;
        }

        return (ms, token[(slash + 1)..]);
    }

    private static int ComparePosition(Host.Model.Leases.Lease lease, long createdMs, string id)
    {
        int byTime = lease.CreatedAt.ToUnixTimeMilliseconds().CompareTo(createdMs);
        return byTime != 0 ? byTime : string.CompareOrdinal(lease.Id, id);
    }

    /// <summary>Ends every lease whose TTL ran out (called by the expiry timer, see LeaseService.Expiry.cs, and on each request).</summary>
    public void ExpireDue()
    {
        foreach (string id in _ledger.Due())
        {
            Host.Model.Leases.Lease lease;
            try
            {
                lock (_attachGate)
                {
                    if (ExpiryWaitsForDomain(id))
                    {
                        continue;
                    }

                    lease = _ledger.BeginEnd(id);
                }
            }
            catch (RpcException)
            {
                // Ended by a concurrent call in between.
                continue;
            }

            Wire.Lease wire;
            try
            {
                wire = FinishEnd(lease, LeaseState.Expired, force: false);
            }
            catch (RpcException ex)
            {
                // A device that is on the host and will not go back: the lease keeps holding it (a vanished one
                // counts as given back, so this is not a device that can never come back); retried later.
                LogExpiryFailed(_logger, $"lease {id}: {ex.Detail}", ExpiryRetry);
                continue;
            }

            DetachFromDomain(lease);
            string how = wire.NotRestored.Count == 0 ? "expired" : $"expired; not restored: {string.Join("; ", wire.NotRestored)}";
            LogEnded(_logger, wire.Id, how);
            Publish("lease.expired", wire.NotRestored.Count == 0 ? Wire.EventSeverity.Info : Wire.EventSeverity.Warning, wire, $"lease {wire.Id} of {wire.Owner} {how}");
        }
    }

    /// <summary>
    /// Gives a lease's devices back (outside every lock: the sysfs writes can block) and records its end; when giving
    /// back fails the lease still holds everything and the error goes up. A device gone from the host counts as given
    /// back, and with <paramref name="force"/> one that will not go back is left as it is: each is reported (log and
    /// a <c>lease.drift</c> event) and recorded in the lease's <c>not_restored</c>.
    /// </summary>
    private Wire.Lease FinishEnd(Host.Model.Leases.Lease lease, LeaseState how, bool force)
    {
        IReadOnlyList<string> notRestored;
        try
        {
            notRestored = _binder.GiveBack(lease, force);
        }
        catch
        {
            _ledger.AbortEnd(lease.Id);
            throw;
        }

        foreach (string what in notRestored)
        {
            LogNotRestored(_logger, lease.Id, what);
            _events.Publish("lease.drift", Wire.EventSeverity.Warning, lease.Id, what);
        }

        return _ledger.FinishEnd(lease.Id, how, notRestored).ToWire();
    }

    /// <summary>
    /// Records each device's <c>driver_override</c> as discovery read it (beside the driver the planner records), so
    /// that release puts back an override the node profile set (vfio-pci) instead of clearing it.
    /// </summary>
    private static PlanResult WithOverrides(PlanResult result, HostTopology topology) =>
        result.Plan is not { } plan || plan.Devices.All(d => topology.FindDevice(d.Address)?.DriverOverride is null) ? result
            : result with { Plan = plan with { Devices = [.. plan.Devices.Select(d => d with { OriginalDriverOverride = topology.FindDevice(d.Address)?.DriverOverride })] } };

    private void Publish(string kind, Wire.EventSeverity severity, Wire.Lease lease, string message) =>
        _events.Publish(kind, severity, lease.Id, message, new Dictionary<string, string>
        {
            ["owner"] = lease.Owner,
            ["devices"] = string.Join(",", lease.Devices.Select(d => d.Address)),
            ["nodes"] = string.Join(",", lease.Nodes.Select(n => n.Node.ToString(CultureInfo.InvariantCulture))),
        });

    [LoggerMessage(EventId = EventIds.LeaseGranted, Level = LogLevel.Information, Message = "Lease {Id} granted to {Owner}: devices [{Devices}], vCPUs on {Cpus}; {Binding}")]
    private static partial void LogGranted(ILogger logger, string id, string owner, string devices, string cpus, string binding);

    [LoggerMessage(EventId = EventIds.LeaseEnded, Level = LogLevel.Information, Message = "Lease {Id} {How}")]
    private static partial void LogEnded(ILogger logger, string id, string how);

    [LoggerMessage(EventId = EventIds.LeaseDrift, Level = LogLevel.Warning, Message = "Lease {Id} ends without restoring everything: {What}")]
    private static partial void LogNotRestored(ILogger logger, string id, string what);

    [LoggerMessage(EventId = EventIds.LeaseRefused, Level = LogLevel.Information, Message = "Lease for {Owner} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string owner, string reason);

    [LoggerMessage(EventId = EventIds.LeaseProcessesUnchecked, Level = LogLevel.Warning, Message = "Lease {Id}: GPU(s) {Gpus} were not checked for running compute processes before they were leased: {Reason} (logged once while this lasts; each lease gets a lease.unchecked event)")]
    private static partial void LogProcessesUnchecked(ILogger logger, string id, string gpus, string reason);

    [LoggerMessage(EventId = EventIds.LeaseAttached, Level = LogLevel.Information, Message = "Lease {Id} attached to domain {Domain} on {Uri}")]
    private static partial void LogAttached(ILogger logger, string id, string domain, string uri);
}
