using System.Globalization;
using System.Xml.Linq;
using AiFactory.Grpc;
using AiFactory.Host.Hardware.Libvirt;
using AiFactory.Host.Model.Cpu;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using Microsoft.Extensions.Logging;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Leases;

/// <summary>
/// AttachLease, and the check Release and expiry make against the attached domain. An attach validates everything it
/// can before its first libvirt write (the XML, the lease's other attachments, a running domain's vCPUs and devices),
/// then defines, then pins live or starts; when a step after the definition fails, what it did is undone (the previous
/// definition put back, a domain it defined undefined, a guest it started stopped, live pins put back) and the error
/// says so.
/// </summary>
/// <remarks>
/// Attaches run one at a time under <c>_attachGate</c> (not the ledger's lock, which listing and granting need), and a
/// release or expiry takes it to check the domain and mark the lease as ending (<see cref="LeaseLedger.BeginEnd"/>); the
/// devices are given back after the gate is let go. So a lease is never attached to two domains by racing calls, an
/// attach refuses a lease being released (the ledger's update says so, and the attach is undone), and a release never
/// starts while an attach is starting the guest that uses its devices. A release waits for an attach in progress; both
/// are rare, operator-paced calls.
/// </remarks>
internal sealed partial class LeaseService
{
    // Due leases whose expiry waits for their domain and has been reported (under _attachGate).
    private readonly HashSet<string> _expiryDeferred = new(StringComparer.Ordinal);

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

        // Before anything else: a URI names a program to run, a host to reach or a file to read as much as a hypervisor.
        string uri = request.LibvirtUri.Length > 0 ? request.LibvirtUri : _libvirtUris.First;
        if (_libvirtUris.Refusal(uri) is { } refused)
        {
            throw new RpcException(StatusCode.InvalidArgument, "libvirt_uri: " + refused);
        }

        XDocument? given = request.DomainXml.Length > 0 ? LeaseDomainXml.Parse(request.DomainXml) : null;
        string name = given is not null ? LeaseDomainXml.NameOf(given) : request.DomainName;
        lock (_attachGate)
        {
            LeaseLedger.Entry entry = _ledger.Get(request.Id) is { Holds: true } e ? e : throw new RpcException(StatusCode.NotFound, $"id: no active lease \"{request.Id}\"");
            if (entry.Lease.State == LeaseState.Granting)
            {
                throw new RpcException(StatusCode.FailedPrecondition, _ledger.GrantingWhy(entry.Lease.Id));
            }

            if (entry.Lease.Plan.Mig is { } mig)
            {
                // libvirt passes a MIG instance to a guest only as a vGPU (an mdev of NVIDIA's vGPU manager), which
                // this agent neither sets up nor checks for; a domain with no device would start without its GPU.
                throw new RpcException(StatusCode.FailedPrecondition,
                    $"id: lease {entry.Lease.Id} holds MIG instance {mig.Profile} at placement {mig.PlacementStart} of GPU {mig.Gpu}, which cannot be attached to a VM: " +
                    "a VM gets a MIG instance only as a vGPU (mdev) of NVIDIA's vGPU manager, which this agent does not set up; lease whole GPUs (--gpus) for a VM, " +
                    "and use MIG leases for work on the host (containers); nothing was changed");
            }

            CheckAttachable(entry.Lease, name);
            try
            {
                return Attach(request, entry.Lease, uri, name, given);
            }
            catch (LibvirtException ex)
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"libvirt_uri: {ex.Message}");
            }
        }
    }

    /// <summary>One lease, one domain: refuses a second domain for the lease, and a domain that carries another lease.</summary>
    private void CheckAttachable(Lease lease, string name)
    {
        if (lease.Domain is { } current && current != name)
        {
            throw new RpcException(StatusCode.FailedPrecondition,
                $"id: lease {lease.Id} is already attached to domain \"{current}\"{(lease.LibvirtUri is { } at ? " on " + LibvirtUris.Show(at) : string.Empty)}; " +
                $"a lease's devices and CPUs go to one domain (attach it to \"{current}\" again, or release it and lease anew for \"{name}\")");
        }

        if (_ledger.List(includeEnded: false).FirstOrDefault(x => x.Lease.Domain == name && x.Lease.Id != lease.Id) is { } other)
        {
            throw new RpcException(StatusCode.FailedPrecondition, $"domain_name: domain \"{name}\" already carries lease {other.Lease.Id}");
        }
    }

    private Wire.AttachLeaseResponse Attach(Wire.AttachLeaseRequest request, Lease lease, string uri, string name, XDocument? given)
    {
        LeasePlan plan = lease.Plan;
        string field = given is not null ? "domain_xml" : "domain_name";
        using ILibvirtConnection connection = _libvirt.Open(uri);
        using ILibvirtDomain? existing = connection.Lookup(name);
        if (existing is null && given is null)
        {
            throw new RpcException(StatusCode.NotFound, $"domain_name: no domain \"{name}\" on {uri}");
        }

        // Everything that can be checked is checked before the first write.
        bool active = existing?.IsActive ?? false;
        string? previous = existing is { IsPersistent: true } ? existing.GetXml(inactive: true) : null;
        XDocument doc = given ?? LeaseDomainXml.Parse(existing!.GetXml(inactive: true));
        if (lease.Domain == name)
        {
            if (given is not null)
            {
                // The caller's pins are checked as on a first attach; only the lease's own may be stripped.
                LeaseDomainXml.CheckOwnPins(given, plan);
            }

            LeaseDomainXml.Strip(doc);
        }

        LeaseDomainXml.Merge(doc, plan);
        LivePins? live = active ? CheckRunning(existing!, name, field, plan) : null;

        ILibvirtDomain? defined = null;
        bool started = false;
        int vcpusPinned = 0;
        bool emulatorPinned = false;
        try
        {
            try
            {
                defined = connection.Define(doc.ToString(SaveOptions.DisableFormatting));
            }
            catch (LibvirtException ex)
            {
                throw new RpcException(given is not null ? StatusCode.InvalidArgument : StatusCode.FailedPrecondition,
                    $"{field}: libvirt refused the definition of \"{name}\" with the lease merged in: {ex.Message}; nothing was changed");
            }

            if (active)
            {
                // The running guest gets its pins now; what only a start can change waits for the next one (said in the reply).
                IReadOnlyList<int> pins = plan.VcpuPins;
                for (; vcpusPinned < pins.Count; vcpusPinned++)
                {
                    defined.PinVcpu(vcpusPinned, CpuSet.Of(pins[vcpusPinned]));
                }

                if (!plan.EmulatorCpus.IsEmpty)
                {
                    emulatorPinned = true;
                    defined.PinEmulator(plan.EmulatorCpus);
                }
            }
            else if (request.Start)
            {
                try
                {
                    defined.Create();
                    started = true;
                }
                catch (LibvirtException ex)
                {
                    throw new RpcException(StatusCode.FailedPrecondition, $"start: libvirt could not start \"{name}\": {ex.Message}");
                }
            }

            string xml = defined.GetXml();
            Wire.Lease wire = _ledger.Update(lease.Id, l =>
            {
                // Another call cannot have attached it meanwhile (the gate), but the ledger is the one to say for sure.
                if (l.Domain is { } other && other != name)
                {
                    throw new RpcException(StatusCode.FailedPrecondition, $"id: lease {l.Id} is already attached to domain \"{other}\"");
                }

                return l with { State = LeaseState.Attached, Domain = name, LibvirtUri = uri };
            }).ToWire();
            string note = active
                ? string.Create(CultureInfo.InvariantCulture,
                    $"domain \"{name}\" is running: its {plan.VcpuPins.Count} vCPU(s){(plan.EmulatorCpus.IsEmpty ? string.Empty : " and emulator threads")} were pinned now; " +
                    $"the devices, memory, hugepages and guest NUMA topology take effect when it is next started (shut it down, then start it; a reboot inside the guest is not enough)")
                : string.Empty;
            LogAttached(_logger, wire.Id, name, uri);
            Publish("lease.attached", Wire.EventSeverity.Info, wire, $"lease {wire.Id} attached to domain {name} on {uri}" + (active ? "; " + note : string.Empty));
            return new Wire.AttachLeaseResponse { Lease = wire, DomainXml = xml, PendingRestart = active, Note = note };
        }
        catch (Exception ex) when (defined is not null && ex is RpcException or LibvirtException or IOException or UnauthorizedAccessException)
        {
            string undone = Undo(connection, name, defined!, previous, started, live, vcpusPinned, emulatorPinned);
            throw ex switch
            {
                RpcException r => new RpcException(r.StatusCode, $"{r.Detail}; {undone}"),
                LibvirtException l => new RpcException(StatusCode.FailedPrecondition, $"libvirt_uri: {l.Message}; {undone}"),
                _ => new RpcException(StatusCode.Unavailable, $"ledger: {ex.Message}; {undone}"),
            };
        }
        finally
        {
            defined?.Dispose();
        }
    }

    /// <summary>What a running domain's vCPUs and emulator threads may use before the attach, to put back if it fails.</summary>
    private sealed record LivePins(IReadOnlyList<CpuSet> Vcpus, CpuSet Emulator);

    /// <summary>
    /// A running domain takes the lease's pins live only when every vCPU of it gets one: its vCPU count must be the
    /// lease's (a guest with more would keep unpinned vCPUs on other tenants' cores; one with fewer cannot take the
    /// lease's pins), and it may pass through no device the lease does not hold.
    /// </summary>
    private LivePins CheckRunning(ILibvirtDomain domain, string name, string field, LeasePlan plan)
    {
        XDocument live = LeaseDomainXml.Parse(domain.GetXml());
        int want = plan.VcpuPins.Count;
        (int max, int current) = LeaseDomainXml.Vcpus(live);
        if (max != want || current != want)
        {
            throw new RpcException(StatusCode.FailedPrecondition, string.Create(CultureInfo.InvariantCulture,
                $"{field}: domain \"{name}\" is running with {current} vCPU(s){(max != current ? $" of {max}" : string.Empty)} and the lease has {want}: " +
                $"its vCPUs cannot all take the lease's pins while it runs; shut it down and attach again (nothing was changed)"));
        }

        var held = plan.Devices.Select(d => d.Address).ToHashSet();
        foreach ((XElement element, PciAddress address) in LeaseDomainXml.PciPassthroughs(live.Root!))
        {
            if (!held.Contains(address))
            {
                throw new RpcException(StatusCode.FailedPrecondition,
                    $"{field}: domain \"{name}\" is running with PCI {address} passed through (<{element.Name.LocalName}>), which this lease does not hold; shut it down and attach again (nothing was changed)");
            }
        }

        CpuSet all = _host.Topology?.Cpus.Online ?? CpuSet.Empty;
        (IReadOnlyList<CpuSet> vcpus, CpuSet emulator) = LeaseDomainXml.LivePins(live, want, all);
        return new LivePins(vcpus, emulator);
    }

    /// <summary>Puts back what a failed attach changed, best effort; says what it did for the error message.</summary>
    private string Undo(ILibvirtConnection connection, string name, ILibvirtDomain defined, string? previous, bool started, LivePins? live, int vcpusPinned, bool emulatorPinned)
    {
        var failed = new List<string>();
        void Try(string what, Action action)
        {
            try
            {
                action();
            }
            catch (LibvirtException ex)
            {
                failed.Add($"{what}: {ex.Message}");
            }
        }

        if (started)
        {
            Try("stopping it again", defined.Destroy);
        }

        if (live is not null)
        {
            for (int i = 0; i < vcpusPinned; i++)
            {
                int vcpu = i;
                if (!live.Vcpus[vcpu].IsEmpty)
                {
                    Try($"re-pinning vCPU {vcpu}", () => defined.PinVcpu(vcpu, live.Vcpus[vcpu]));
                }
            }

            if (emulatorPinned && !live.Emulator.IsEmpty)
            {
                Try("re-pinning the emulator threads", () => defined.PinEmulator(live.Emulator));
            }
        }

        string restored;
        if (previous is not null)
        {
            restored = "the previous definition was put back";
            Try("putting the previous definition back", () => connection.Define(previous).Dispose());
        }
        else
        {
            // It had no persistent definition: undefining leaves a running (transient) domain running, and removes one
            // the attach created.
            restored = "the definition it made was removed";
            Try("removing the definition", defined.Undefine);
        }

        if (failed.Count == 0)
        {
            LogAttachUndone(_logger, name, restored);
            return restored + (started ? " and the domain stopped" : string.Empty) + (vcpusPinned > 0 ? " and its earlier vCPU pins restored" : string.Empty);
        }

        string what = string.Join("; ", failed);
        LogAttachUndoFailed(_logger, name, what);
        return "undoing it failed (" + what + "): check the domain";
    }

    /// <summary>
    /// The running domain a holding lease is attached to, asked through libvirt (the URI it was attached through;
    /// <c>qemu:///system</c> for a lease recorded before the URI was kept), with the refusal to give; null when it is not
    /// attached or its domain is not running. A libvirt that cannot answer counts as running: the guest may be there.
    /// </summary>
    private (string Name, string Why)? RunningDomain(Lease lease)
    {
        if (lease.Domain is not { } name)
        {
            return null;
        }

        string uri = lease.LibvirtUri ?? DefaultLibvirtUri;
        if (_libvirtUris.Refusal(uri) is { } refused)
        {
            // Stored by an older agent, or the setting changed since: never reopened unchecked.
            return (name, $"id: lease {lease.Id} is attached to domain \"{name}\" and its libvirt_uri {refused}, so the agent does not ask whether the domain is running; " +
                "check it, or release with force (aifactoryctl lease release --force)");
        }

        try
        {
            using ILibvirtConnection connection = _libvirt.Open(uri);
            using ILibvirtDomain? domain = connection.Lookup(name);
            return domain is { IsActive: true }
                ? (name, $"id: lease {lease.Id} is attached to domain \"{name}\", which is running on {uri}: its devices would go back to their host drivers under the guest; " +
                    "shut the domain down first, or release with force (aifactoryctl lease release --force)")
                : null;
        }
        catch (LibvirtException ex)
        {
            return (name, $"id: lease {lease.Id} is attached to domain \"{name}\" and {uri} cannot say whether it is running ({ex.Message}); " +
                "check it, or release with force (aifactoryctl lease release --force)");
        }
    }

    /// <summary>
    /// After a lease ended: takes it out of the persistent definition of the domain it was attached to (its devices,
    /// pins, <c>&lt;numatune&gt;</c>, guest NUMA and hugepage backing; <see cref="LeaseDomainXml.Detach"/>), so that
    /// starting that domain later cannot take devices another lease may hold by then. A domain that no longer exists
    /// needs nothing; a libvirt that cannot do it is logged and published, never an error: the release is stored.
    /// </summary>
    private void DetachFromDomain(Lease lease)
    {
        if (lease.Domain is not { } name)
        {
            return;
        }

        string uri = lease.LibvirtUri ?? DefaultLibvirtUri;
        try
        {
            if (_libvirtUris.Refusal(uri) is { } refused)
            {
                throw new RpcException(StatusCode.FailedPrecondition, "libvirt_uri: " + refused);
            }

            using ILibvirtConnection connection = _libvirt.Open(uri);
            using ILibvirtDomain? domain = connection.Lookup(name);
            if (domain is null)
            {
                return;
            }

            XDocument doc = LeaseDomainXml.Parse(domain.GetXml(inactive: true));
            LeaseDomainXml.Detach(doc, lease.Plan);
            using ILibvirtDomain _ = connection.Define(doc.ToString(SaveOptions.DisableFormatting));
            LogDetached(_logger, lease.Id, name);
        }
        catch (Exception ex) when (ex is LibvirtException or RpcException)
        {
            LogDetachFailed(_logger, lease.Id, name, LibvirtUris.Show(uri), ex.Message);
            _events.Publish("lease.detach_failed", Wire.EventSeverity.Warning, lease.Id,
                $"lease {lease.Id} ended but domain {name} on {LibvirtUris.Show(uri)} still names its devices and pins ({ex.Message}): edit the domain before starting it");
        }
    }

    /// <summary>
    /// True while a due lease's domain runs (or libvirt cannot tell): its expiry waits, as a release without force
    /// would, and says so once (log and a <c>lease.expiry_deferred</c> event); a release with force ends it at once.
    /// </summary>
    private bool ExpiryWaitsForDomain(string id)
    {
        if (_ledger.Get(id) is not { Holds: true } entry || RunningDomain(entry.Lease) is not { } running)
        {
            return false;
        }

        if (_expiryDeferred.Add(id))
        {
            LogExpiryDeferred(_logger, id, running.Name);
            _events.Publish("lease.expiry_deferred", Wire.EventSeverity.Warning, id,
                $"lease {id} is due but stays until domain {running.Name} stops (or it is released with force): {running.Why}");
        }

        return true;
    }

    [LoggerMessage(EventId = EventIds.LeaseAttachUndone, Level = LogLevel.Warning, Message = "Attaching a lease to domain {Domain} failed halfway; {Undone}")]
    private static partial void LogAttachUndone(ILogger logger, string domain, string undone);

    [LoggerMessage(EventId = EventIds.LeaseAttachUndoFailed, Level = LogLevel.Error, Message = "Attaching a lease to domain {Domain} failed halfway and undoing it failed: {Failures}; check the domain's definition")]
    private static partial void LogAttachUndoFailed(ILogger logger, string domain, string failures);

    [LoggerMessage(EventId = EventIds.LeaseDetached, Level = LogLevel.Information, Message = "Lease {Id} taken out of domain {Domain}'s definition (devices, pins, NUMA and hugepages)")]
    private static partial void LogDetached(ILogger logger, string id, string domain);

    [LoggerMessage(EventId = EventIds.LeaseDetachFailed, Level = LogLevel.Warning, Message = "Lease {Id} ended but could not be taken out of domain {Domain} on {Uri}: {Reason}; the domain still names its devices and pins")]
    private static partial void LogDetachFailed(ILogger logger, string id, string domain, string uri, string reason);

    [LoggerMessage(EventId = EventIds.LeaseExpiryDeferred, Level = LogLevel.Warning, Message = "Lease {Id} is due but its domain {Domain} is running (or libvirt cannot tell): it stays until the domain stops or it is released with force")]
    private static partial void LogExpiryDeferred(ILogger logger, string id, string domain);
}
