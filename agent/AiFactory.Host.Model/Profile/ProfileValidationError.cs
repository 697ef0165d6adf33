using AiFactory.Host.Model.Text;

namespace AiFactory.Host.Model.Profile;

/// <summary>Why a profile cannot be applied: the field (<c>sriov[0].numVfs</c>) and the reason.</summary>
/// <param name="Field">The path of the field in the profile.</param>
/// <param name="Reason">What is wrong with it, with the values involved.</param>
public sealed record ProfileValidationError(string Field, string Reason)
{
    /// <summary>
    /// True when the refusal comes from what leases hold being unknown (<see cref="LeaseHolds.Unavailable"/>,
    /// <see cref="ProfileCurrentState.MigHoldsUnavailable"/>), not from the profile or the machine: the same profile
    /// may plan once the holds can be read (beside a running agent, through that agent).
    /// </summary>
    public bool HoldsUnknown { get; init; }

    /// <summary>
    /// <c>field: reason</c> on one line: a control character (a newline in a quoted YAML key or value) is written as
    /// <c>\xNN</c>, so each error is one line wherever it goes (stderr, the log, a gRPC status joined by newlines).
    /// </summary>
    public override string ToString() => ControlCharacters.Escape($"{Field}: {Reason}");
}
