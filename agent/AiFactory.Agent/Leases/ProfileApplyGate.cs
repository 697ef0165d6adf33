using AiFactory.Host.Model.Leases;
using AiFactory.Host.Model.Pci;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Leases;

/// <summary>
/// The in-process gate between a node-profile apply and lease grants, held by the profile manager for the apply's
/// duration and checked by the ledger under its lock right before it records a grant. Closed (from before the plan
/// reads what leases hold, <see cref="LeaseLedger.HoldGrants"/>), it stops every grant; narrowed to what the plan
/// changes (<see cref="ProfileTouch"/>), only grants of those; opened when the apply (and its verification) ended.
/// A stopped grant waits for the gate to move, up to the ledger's bound, then is refused with UNAVAILABLE naming the
/// apply. Open, a grant pays one volatile read.
/// </summary>
internal sealed class ProfileApplyGate
{
    private readonly Lock _gate = new();
    private State? _state;

    // Completed (and replaced) whenever the gate moves: a stopped grant waits on the one it saw.
    private TaskCompletionSource _moved = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The apply holding the gate: where it came from, since when, and what it changes (null while it plans: everything).</summary>
    private sealed record State(string Origin, DateTimeOffset Since, ProfileTouch? Touch);

    /// <summary>Why a grant is stopped, and what to wait on before trying again.</summary>
    internal sealed record Stopped(string Why, Task Moved);

    /// <summary>True while an apply holds the gate.</summary>
    public bool IsClosed => Volatile.Read(ref _state) is not null;

    /// <summary>Null when <paramref name="plan"/> may be granted now; otherwise why not and what to wait on.</summary>
    public Stopped? Check(LeasePlan plan, Func<PciAddress, PciAddress?>? physicalFunctionOf)
    {
        if (Volatile.Read(ref _state) is null)
        {
            return null;
        }

        lock (_gate)
        {
            if (_state is not { } state)
            {
                return null;
            }

            string since = state.Since.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
            if (state.Touch is not { } touch)
            {
                return new Stopped($"a node-profile apply is in progress ({state.Origin}, since {since}) and has not yet planned what it changes; try again when it has finished", _moved.Task);
            }

            return touch.Conflict(plan, physicalFunctionOf) is { } what
                ? new Stopped($"a node-profile apply is in progress ({state.Origin}, since {since}) and changes {what}; try again when it has finished", _moved.Task)
                : null;
        }
    }

    /// <summary>Closes the gate for one apply; throws when another holds it (the profile manager runs one at a time).</summary>
    internal void Close(string origin, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (_state is not null)
            {
                throw new InvalidOperationException($"the profile gate is held already ({_state.Origin})");
            }

            Move(new State(origin, now, null));
        }
    }

    /// <summary>Lets grants through that touch nothing of <paramref name="touch"/>.</summary>
    internal void Narrow(ProfileTouch touch)
    {
        lock (_gate)
        {
            if (_state is { } state)
            {
                Move(state with { Touch = touch });
            }
        }
    }

    /// <summary>Opens the gate: the apply has ended.</summary>
    internal void Open()
    {
        lock (_gate)
        {
            Move(null);
        }
    }

    private void Move(State? state)
    {
        Volatile.Write(ref _state, state);
        TaskCompletionSource moved = _moved;
        _moved = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        moved.TrySetResult();
    }
}
