using System.Globalization;
using System.Text;

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
    public override string ToString() => OneLine($"{Field}: {Reason}");

    private static string OneLine(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\0', '\x1f') && !text.AsSpan().ContainsAnyInRange('\x7f', '\x9f'))
        {
            return text;
        }

        var line = new StringBuilder(text.Length + 16);
        foreach (char c in text)
        {
            if (c < 0x20 || c is >= '\x7f' and <= '\x9f')
            {
                line.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                line.Append(c);
            }
        }

        return line.ToString();
    }
}
