using System.Globalization;
using System.Xml.Linq;
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
/// <see cref="LeasePlanner"/> inside the ledger's lock, binds devices through <see cref="ILeaseDeviceBinder"/>, and
/// publishes <c>lease.created</c> / <c>lease.released</c> / <c>lease.expired</c> / <c>lease.attached</c> events.
/// </summary>
internal sealed partial class LeaseService
{
    public const string ServiceName = "aifactory.agent.v1.Leases";
    public const string DefaultLibvirtUri = "qemu:///system";

    private readonly LeaseLedger _ledger;
    private readonly ILeaseHost _host;
    private readonly ILeaseDeviceBinder _binder;
    private readonly ILibvirt _libvirt;
    private readonly EventBus _events;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public LeaseService(LeaseLedger ledger, ILeaseHost host, ILeaseDeviceBinder binder, ILibvirt libvirt, EventBus events, TimeProvider time, ILogger<LeaseService> logger)
    {
        _ledger = ledger;
        _host = host;
        _binder = binder;
        _libvirt = libvirt;
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
        CpuSet reserved = _host.HostReservedCpus;
        if (_host.HostReservedCpusUnknown is { } unknown)
        {
            throw new RpcException(StatusCode.FailedPrecondition, "cpus.reserved: " + unknown);
        }

        IReadOnlyList<MigCapacity> mig = _host.MigCapacity;
        IReadOnlySet<PciAddress> unhealthy = _host.UnhealthyGpus;
        IReadOnlyDictionary<PciAddress, string> names = _host.GpuNames;
        PlanResult Plan(IReadOnlyList<LeasePlan> current) =>
            LeasePlanner.Plan(new PlanningContext(topology, current, reserved, mig, UnhealthyGpus: unhealthy, GpuNames: names), lease);

        if (request.DryRun)
        {
            PlanResult result = Plan([.. _ledger.List(includeEnded: false).Select(e => e.Lease.Plan)]);
            if (result.Refusal is { } refusal)
            {
                throw new RpcException(refusal.Kind == RefusalKind.InvalidRequest ? StatusCode.InvalidArgument : StatusCode.ResourceExhausted, $"{LeaseMessages.WireField(refusal.Field)}: {refusal.Message}");
            }

            var preview = new Host.Model.Leases.Lease { Id = string.Empty, Owner = lease.Owner, CreatedAt = _time.GetUtcNow(), ExpiresAt = expiresAt, State = LeaseState.Active, Request = lease, Plan = result.Plan! };
            return LeaseMessages.ToWire(preview, request.Spec);
        }

        LeaseLedger.Entry entry;
        try
        {
            entry = _ledger.Grant(request.Spec, lease, expiresAt, Plan, _binder.Bind);
        }
        catch (RpcException ex) when (ex.StatusCode is StatusCode.ResourceExhausted or StatusCode.InvalidArgument)
        {
            LogRefused(_logger, lease.Owner, ex.Detail);
            throw;
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

        Wire.Lease wire = _ledger.End(request.Id, LeaseState.Released, _binder.Unbind).ToWire();
        LogEnded(_logger, wire.Id, "released");
        Publish("lease.released", Wire.EventSeverity.Info, wire, $"lease {wire.Id} of {wire.Owner} released");
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
        var response = new Wire.ListLeasesResponse();
        response.Leases.AddRange(_ledger.List(request.IncludeEnded, request.Owner).Select(e => e.ToWire()));
        return response;
    }

    /// <summary>Ends every lease whose TTL ran out (called by the expiry timer, see LeaseService.Expiry.cs, and on each request).</summary>
    public void ExpireDue()
    {
        foreach (string id in _ledger.Due())
        {
            try
            {
                Wire.Lease wire = _ledger.End(id, LeaseState.Expired, _binder.Unbind).ToWire();
                LogEnded(_logger, wire.Id, "expired");
                Publish("lease.expired", Wire.EventSeverity.Info, wire, $"lease {wire.Id} of {wire.Owner} expired");
            }
            catch (RpcException)
            {
                // Ended by a concurrent call in between.
            }
        }
    }

    public Wire.AttachLeaseResponse AttachLease(Wire.AttachLeaseRequest request)
    {
        if (string.IsNullOrEmpty(request.Id))
        {
            throw new RpcException(StatusCode.InvalidArgument, "id: is required");
        }

        if ((request.DomainXml.Length > 0) == (request.DomainName.Length > 0))
        {
            throw new RpcException(StatusCode.InvalidArgument, "domain_xml: give either domain_xml or domain_name");
        }

        LeaseLedger.Entry entry = _ledger.Get(request.Id) is { Holds: true } e ? e : throw new RpcException(StatusCode.NotFound, $"id: no active lease \"{request.Id}\"");
        string uri = request.LibvirtUri.Length > 0 ? request.LibvirtUri : DefaultLibvirtUri;
        XDocument? given = request.DomainXml.Length > 0 ? LeaseDomainXml.Parse(request.DomainXml) : null;
        try
        {
            using ILibvirtConnection connection = _libvirt.Open(uri);
            XDocument doc;
            bool wasActive = false;
            if (given is not null)
            {
                doc = given;
            }
            else
            {
                using ILibvirtDomain existing = connection.Lookup(request.DomainName) ?? throw new RpcException(StatusCode.NotFound, $"domain_name: no domain \"{request.DomainName}\" on {uri}");
                wasActive = existing.IsActive;
                doc = LeaseDomainXml.Parse(existing.GetXml(inactive: true));
            }

            string name = LeaseDomainXml.NameOf(doc);
            if (_ledger.List(includeEnded: false).FirstOrDefault(x => x.Lease.Domain == name && x.Lease.Id != request.Id) is { } other)
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"domain_name: domain \"{name}\" already carries lease {other.Lease.Id}");
            }

            LeaseDomainXml.Merge(doc, entry.Lease.Plan);
            using ILibvirtDomain domain = connection.Define(doc.ToString(SaveOptions.DisableFormatting));
            if (wasActive)
            {
                // The persistent definition changes at next boot; pin the running guest now.
                IReadOnlyList<int> pins = entry.Lease.Plan.VcpuPins;
                for (int i = 0; i < pins.Count; i++)
                {
                    domain.PinVcpu(i, CpuSet.Of(pins[i]));
                }

                domain.PinEmulator(entry.Lease.Plan.EmulatorCpus);
            }
            else if (request.Start)
            {
                domain.Create();
            }

            string xml = domain.GetXml();
            Wire.Lease wire = _ledger.Update(request.Id, l => l with { State = LeaseState.Attached, Domain = name }).ToWire();
            LogAttached(_logger, wire.Id, name, uri);
            Publish("lease.attached", Wire.EventSeverity.Info, wire, $"lease {wire.Id} attached to domain {name} on {uri}");
            return new Wire.AttachLeaseResponse { Lease = wire, DomainXml = xml };
        }
        catch (LibvirtException ex)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"libvirt_uri: {ex.Message}");
        }
    }

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

    [LoggerMessage(EventId = EventIds.LeaseRefused, Level = LogLevel.Information, Message = "Lease for {Owner} refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string owner, string reason);

    [LoggerMessage(EventId = EventIds.LeaseAttached, Level = LogLevel.Information, Message = "Lease {Id} attached to domain {Domain} on {Uri}")]
    private static partial void LogAttached(ILogger logger, string id, string domain, string uri);
}
