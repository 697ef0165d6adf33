using System.Globalization;
using System.Runtime.CompilerServices;
using AiFactory.Agent.Leases.Store;
using AiFactory.Grpc;
using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Planning.Leases;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Wire = AiFactory.Contracts.Agent.V1;

namespace AiFactory.Agent.Leases;

/// <summary>
/// Who holds what: the one owner of lease state. Every change happens under one lock — plan against the current
/// leases, record, store through (one durable append to <see cref="LeaseJournal"/>) — so concurrent requests can never
/// be granted the same device or CPU, and a lease is on disk before it is answered. Moving devices between drivers
/// is no change of the ledger's and runs outside the lock, on a reservation (<see cref="Grant"/>, <see cref="End"/>). Outward it offers copies (a
/// read-only view); only its own methods write.
/// </summary>
/// <remarks>
/// On disk the ledger is a checkpoint plus a journal, as etcd keeps a snapshot plus a write-ahead log: the checkpoint
/// (<see cref="LeaseCheckpoint"/>) holds every record as of its journal generation, and each change since is one
/// framed record appended to the journal with one write and fdatasync — one flush per change, where rewriting the
/// whole checkpoint cost temp → fsync → rename → fsync(dir) and grew with the 256 ended leases kept. See
/// <c>LeaseLedger.Store.cs</c> for loading, replay and compaction.
/// </remarks>
internal sealed partial class LeaseLedger
{
    private const int EndedKept = 256;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _leases = new(StringComparer.Ordinal);

    // Each record's checkpoint bytes, kept with the (immutable) entry: a change replaces one entry, so a store
    // encodes one lease and copies the others' bytes instead of converting and encoding every one again.
    private readonly ConditionalWeakTable<Entry, ByteString> _encoded = new();
    private readonly List<string> _ended = [];

    // Holding leases whose End is giving their devices back (outside the lock); not stored: after a crash the lease
    // simply still holds.
    private readonly HashSet<string> _ending = new(StringComparer.Ordinal);

    // Leases this process is granting (reserved and stored as Granting, their devices being bound outside the lock):
    // not released, attached or expired until the grant is committed or dropped. A Granting lease not in this set
    // was left by a crash mid-grant and can be released.
    private readonly HashSet<string> _granting = new(StringComparer.Ordinal);
    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    public LeaseLedger(string directory, ILogger<LeaseLedger> logger, TimeProvider time)
    {
        _directory = directory;
        _logger = logger;
        _time = time;
    }

    /// <summary>
    /// A lease with the spec it was asked with and, once over, when it ended and what of it was counted as given back
    /// without being restored (see <see cref="ILeaseDeviceBinder.GiveBack"/>).
    /// </summary>
    internal sealed record Entry(Lease Lease, Wire.LeaseSpec Spec, DateTimeOffset? EndedAt, IReadOnlyList<string>? NotRestored = null)
    {
        public bool Holds => Lease.State is LeaseState.Active or LeaseState.Attached or LeaseState.Granting;

        public Wire.Lease ToWire()
        {
            Wire.Lease wire = LeaseMessages.ToWire(Lease, Spec, EndedAt);
            wire.NotRestored.Add(NotRestored ?? []);
            return wire;
        }
    }

    /// <summary>Where the checkpoint lives.</summary>
    public string Path => System.IO.Path.Combine(_directory, LeaseCheckpoint.FileName);

    /// <summary>Where the journal lives, beside the checkpoint.</summary>
    public string JournalPath => System.IO.Path.Combine(_directory, LeaseJournal.FileName);

    /// <summary>What <see cref="Load"/> set aside: the checkpoint's new name (or the journal's, when only it was set aside).</summary>
    public string? SetAsidePath { get; private set; }

    /// <summary>Every file <see cref="Load"/> set aside, by its new name ("a and b").</summary>
    public string? SetAsideNames { get; private set; }

    /// <summary>True when <see cref="Load"/> set aside only the journal and kept the checkpoint's leases.</summary>
    public bool SetAsideKeptCheckpoint { get; private set; }

    /// <summary>
    /// Present after a set-aside until an operator deletes it: grants are refused meanwhile (<see cref="Unacknowledged"/>).
    /// </summary>
    public string AcknowledgePath => System.IO.Path.Combine(_directory, "leases.set-aside");

    /// <summary>
    /// Copies of the leases, optionally with the ended ones and only one owner's: oldest first by creation time in
    /// the milliseconds the ledger stores (so the order, and a ListLeases page token, survive a restart), then by id.
    /// </summary>
    public IReadOnlyList<Entry> List(bool includeEnded, string? owner = null)
    {
        lock (_gate)
        {
            return [.. _leases.Values.Where(e => (includeEnded || e.Holds) && (string.IsNullOrEmpty(owner) || e.Lease.Owner == owner))
                .OrderBy(e => e.Lease.CreatedAt.ToUnixTimeMilliseconds()).ThenBy(e => e.Lease.Id, StringComparer.Ordinal)];
        }
    }

    /// <summary>The lease, or null.</summary>
    public Entry? Get(string id)
    {
        lock (_gate)
        {
            return _leases.GetValueOrDefault(id);
        }
    }

    /// <summary>
    /// Plans and records a lease; <paramref name="plan"/> sees the plans of every lease holding resources now (those
    /// being granted included). When <paramref name="binder"/> has something to change for the plan, the grant is
    /// two-phase: the plan is reserved under the lock (recorded and stored as <see cref="LeaseState.Granting"/>), the
    /// devices are bound outside the lock, and the grant is committed (stored as <see cref="LeaseState.Active"/>);
    /// when binding fails (the binder has restored what it bound), the reservation is dropped and the error goes up.
    /// </summary>
    /// <remarks>
    /// Binding runs outside the lock for the reason giving back does (see <see cref="End"/>): a vfio-pci bind is a
    /// chain of sysfs writes that can block in the kernel, and MIG creation is a string of NVML calls; listing,
    /// reading, other grants and releases, and metrics scrapes must not wait on them. It is safe because the
    /// reservation is in the ledger while binding runs: the planner of every other request sees it, the MIG applier
    /// plans around its instance (<see cref="While{T}"/>), and <see cref="_granting"/> refuses its release, attach and
    /// expiry until the grant is committed or dropped. The reservation is stored before anything is bound, so a crash
    /// in between leaves a <see cref="LeaseState.Granting"/> record: start-up reports it (what is bound, what is
    /// not) and changes nothing; the lease holds its resources until it is released, which gives back whatever was
    /// bound (unbinding asserts first). A grant with nothing to bind (binding deferred, or a lease of CPUs and memory
    /// only) is recorded as active in one step.
    /// </remarks>
    public Entry Grant(Wire.LeaseSpec spec, LeaseRequest request, DateTimeOffset? expiresAt, Func<IReadOnlyList<LeasePlan>, PlanResult> plan, ILeaseDeviceBinder? binder = null, Func<PciAddress, PciAddress?>? physicalFunctionOf = null)
    {
        Lease lease;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            ProfileApplyGate.Stopped? stopped;
            lock (_gate)
            {
                Entry? recorded = RecordLocked(spec, request, expiresAt, plan, p => binder?.Changes(p) == true ? LeaseState.Granting : LeaseState.Active, physicalFunctionOf, out stopped);
                if (recorded?.Lease.State == LeaseState.Active)
                {
                    return recorded;
                }

                if (recorded is not null)
                {
                    lease = recorded.Lease;
                    _granting.Add(lease.Id);
                    break;
                }
            }

            // A profile apply touches what this plan holds (or is still planning): wait for it to move, bounded, then
            // plan again (the apply may have changed what is free).
            TimeSpan left = ProfileApplyWait - System.Diagnostics.Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero || !stopped!.Moved.Wait(left))
            {
                throw new RpcException(StatusCode.Unavailable, stopped!.Why);
            }
        }

        try
        {
            binder!.Bind(lease);
        }
        catch
        {
            Abandon(lease.Id);
            throw;
        }

        try
        {
            return Commit(lease.Id);
        }
        catch (RpcException ex)
        {
            // Bound but not recorded as granted: give the devices back and drop the reservation; when giving back
            // fails too, the reservation stays (as after a crash) for a release to finish.
            try
            {
                binder.Unbind(lease);
            }
            catch (Exception undo) when (undo is RpcException or IOException or InvalidOperationException)
            {
                lock (_gate)
                {
                    _granting.Remove(lease.Id);
                }

                throw new RpcException(ex.StatusCode, $"{ex.Detail}; giving the devices back failed too ({undo.Message}): lease {lease.Id} holds them until it is released");
            }

            Abandon(lease.Id);
            throw;
        }
    }

    /// <summary>
    /// Plans under the lock and records the lease in the state <paramref name="state"/> picks for its plan; stored
    /// before it returns. Null, with <paramref name="stopped"/> saying why, when a profile apply touches the plan.
    /// </summary>
    private Entry? RecordLocked(Wire.LeaseSpec spec, LeaseRequest request, DateTimeOffset? expiresAt, Func<IReadOnlyList<LeasePlan>, PlanResult> plan, Func<LeasePlan, LeaseState> state, Func<PciAddress, PciAddress?>? physicalFunctionOf, out ProfileApplyGate.Stopped? stopped)
    {
        PlanResult result = plan([.. _leases.Values.Where(e => e.Holds).Select(e => e.Lease.Plan)]);
        if (result.Refusal is { } refusal)
        {
            throw new RpcException(
                LeaseMessages.StatusOf(refusal.Kind),
                $"{LeaseMessages.WireField(refusal.Field)}: {refusal.Message}");
        }

        // Checked here, with the plan, under the lock the apply closed the gate under (see LeaseLedger.ProfileGate.cs).
        RequireOwnerLockLocked();
        stopped = ProfileGate.Check(result.Plan!, physicalFunctionOf);
        if (stopped is not null)
        {
            return null;
        }

        var lease = new Lease
        {
            Id = NewId(),
            Owner = request.Owner,
            CreatedAt = _time.GetUtcNow(),
            ExpiresAt = expiresAt,
            State = state(result.Plan!),
            Request = request,
            Plan = result.Plan!,
        };
        var entry = new Entry(lease, spec, null);
        _leases[lease.Id] = entry;
        try
        {
            StoreLocked(PutFrame(entry));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _leases.Remove(lease.Id);
            throw new RpcException(StatusCode.Unavailable, $"ledger: cannot store {JournalPath}: {ex.Message}");
        }

        return entry;
    }

    /// <summary>The last step of a two-phase grant: the devices are bound; records the lease as active and stores it.</summary>
    private Entry Commit(string id)
    {
        lock (_gate)
        {
            // Still the same record: while its id is in _granting nothing else can change or remove it.
            Entry reserved = _leases[id];
            var granted = reserved with { Lease = reserved.Lease with { State = LeaseState.Active } };
            _leases[id] = granted;
            try
            {
                StoreLocked(PutFrame(granted));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _leases[id] = reserved;
                throw new RpcException(StatusCode.Unavailable, $"ledger: cannot store {JournalPath}: {ex.Message}");
            }

            _granting.Remove(id);
            return granted;
        }
    }

    /// <summary>
    /// Drops a reservation whose binding failed (the binder restored what it had bound). When storing the removal
    /// fails, the lease is gone from memory all the same (the next change rewrites the checkpoint without it); a
    /// crash before that leaves its <see cref="LeaseState.Granting"/> record, reported at start.
    /// </summary>
    private void Abandon(string id)
    {
        lock (_gate)
        {
            _granting.Remove(id);
            _leases.Remove(id);
            try
            {
                StoreLocked(RemoveFrame(id));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                LogAbandonNotStored(_logger, id, JournalPath, ex.Message);
            }
        }
    }

    /// <summary>
    /// Ends a lease (released or expired); <paramref name="undo"/> (device unbinding) runs first. Throws NotFound for an
    /// unknown id, FailedPrecondition for one already ended or being ended; when <paramref name="undo"/> throws, the lease
    /// still holds everything.
    /// </summary>
    /// <remarks>
    /// <paramref name="undo"/> runs outside the lock: giving a device back to its driver is a sysfs write that can block
    /// in the kernel (a vfio-pci unbind waits for whoever has the device open), and listing, granting, metrics scrapes and
    /// other releases must not wait on it. It is safe because the lease keeps holding its resources until the end is
    /// stored (the planner cannot hand them out meanwhile), and <see cref="_ending"/> refuses a second End or an
    /// <see cref="Update"/> of it until then. A crash during <paramref name="undo"/> leaves the lease recorded as
    /// holding: the start-up reconciliation reports the devices that already went back, and releasing it again finishes
    /// the job (unbinding asserts first).
    /// </remarks>
    public Entry End(string id, LeaseState how, Action<Lease>? undo = null)
    {
        Lease lease = BeginEnd(id);
        try
        {
            undo?.Invoke(lease);
        }
        catch
        {
            AbortEnd(id);
            throw;
        }

        return FinishEnd(id, how);
    }

    /// <summary>
    /// The first step of <see cref="End"/>: marks a holding lease as being ended and returns it, for its devices to be
    /// given back outside the lock. Throws as <see cref="End"/> does. Follow with <see cref="FinishEnd"/> or <see cref="AbortEnd"/>.
    /// </summary>
    public Lease BeginEnd(string id)
    {
        lock (_gate)
        {
            if (!_leases.TryGetValue(id, out Entry? entry))
            {
                throw new RpcException(StatusCode.NotFound, $"id: no lease \"{id}\"");
            }

            if (!entry.Holds)
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"id: lease \"{id}\" already ended ({entry.Lease.State.ToString().ToLowerInvariant()})");
            }

            if (_granting.Contains(id))
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"id: lease \"{id}\" is still being granted (its devices are being bound)");
            }

            if (!_ending.Add(id))
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"id: lease \"{id}\" is being released already");
            }

            return entry.Lease;
        }
    }

    /// <summary>Takes back <see cref="BeginEnd"/>: giving the devices back failed, and the lease holds them still.</summary>
    public void AbortEnd(string id)
    {
        lock (_gate)
        {
            _ending.Remove(id);
        }
    }

    /// <summary>
    /// The last step of <see cref="End"/>: records the lease as <paramref name="how"/> (with what was
    /// <paramref name="notRestored"/>) and stores it.
    /// </summary>
    public Entry FinishEnd(string id, LeaseState how, IReadOnlyList<string>? notRestored = null)
    {
        lock (_gate)
        {
            if (!_ending.Remove(id))
            {
                throw new InvalidOperationException($"lease \"{id}\" is not being ended");
            }

            // Still the same record: while its id was in _ending nothing else could change or remove it.
            Entry entry = _leases[id];
            var ended = entry with { Lease = entry.Lease with { State = how }, EndedAt = _time.GetUtcNow(), NotRestored = notRestored is { Count: > 0 } ? notRestored : null };

            // The record and the evictions it causes go down in one append, so replay evicts exactly what was evicted.
            // Memory is changed for the store (a store that writes the whole checkpoint encodes memory) and put back
            // when it fails, all under the lock: nobody sees a release that is not on disk.
            _leases[id] = ended;
            _ended.Add(id);
            List<byte[]> frames = [PutFrame(ended)];
            var evicted = new List<Entry>();
            while (_ended.Count > EndedKept)
            {
                evicted.Add(_leases[_ended[0]]);
                _leases.Remove(_ended[0]);
                frames.Add(RemoveFrame(_ended[0]));
                _ended.RemoveAt(0);
            }

            try
            {
                StoreLocked([.. frames]);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _ended.RemoveAt(_ended.Count - 1);
                _ended.InsertRange(0, evicted.Select(e => e.Lease.Id));
                foreach (Entry e in evicted)
                {
                    _leases[e.Lease.Id] = e;
                }

                _leases[id] = entry;
                throw new RpcException(StatusCode.Unavailable, $"ledger: cannot store {JournalPath}: {ex.Message}; lease \"{id}\" gave its devices back but is still recorded as holding: release it again once the state dir is writable");
            }

            return ended;
        }
    }

    /// <summary>
    /// Changes a holding lease (attachment to a domain) and stores it; <paramref name="change"/> runs under the lock and
    /// may throw to refuse. FailedPrecondition while the lease is being ended.
    /// </summary>
    public Entry Update(string id, Func<Lease, Lease> change)
    {
        lock (_gate)
        {
            if (!_leases.TryGetValue(id, out Entry? entry) || !entry.Holds)
            {
                throw new RpcException(StatusCode.NotFound, $"id: no active lease \"{id}\"");
            }

            if (_ending.Contains(id))
            {
                throw new RpcException(StatusCode.FailedPrecondition, $"id: lease \"{id}\" is being released");
            }

            if (entry.Lease.State == LeaseState.Granting)
            {
                throw new RpcException(StatusCode.FailedPrecondition, GrantingWhy(id));
            }

            Entry updated = entry with { Lease = change(entry.Lease) };
            _leases[id] = updated;
            StoreLocked(PutFrame(updated));
            return updated;
        }
    }

    /// <summary>The ids of holding leases whose expiry has passed.</summary>
    public IReadOnlyList<string> Due()
    {
        DateTimeOffset now = _time.GetUtcNow();
        lock (_gate)
        {
            return [.. _leases.Values.Where(e => e.Holds && e.Lease.ExpiresAt is { } at && at <= now && !_granting.Contains(e.Lease.Id)).Select(e => e.Lease.Id)];
        }
    }

    /// <summary>The earliest expiry of a holding lease; null when none has a TTL.</summary>
    public DateTimeOffset? NextExpiry()
    {
        lock (_gate)
        {
            DateTimeOffset? next = null;
            foreach (Entry e in _leases.Values)
            {
                if (e.Holds && e.Lease.ExpiresAt is { } at && (next is null || at < next))
                {
                    next = at;
                }
            }

            return next;
        }
    }

    /// <summary>Why a <see cref="LeaseState.Granting"/> lease cannot be attached: being granted now, or left so by a crash.</summary>
    public string GrantingWhy(string id)
    {
        lock (_gate)
        {
            return _granting.Contains(id)
                ? $"id: lease \"{id}\" is still being granted (its devices are being bound)"
                : $"id: lease \"{id}\" was being granted when the agent stopped, so its devices may be only partly bound: release it and lease again";
        }
    }

    private static string NewId() => "lease-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
}
