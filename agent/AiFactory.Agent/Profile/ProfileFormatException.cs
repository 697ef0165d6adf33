using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Profile;

/// <summary>A profile document that cannot be read: every error with its field.</summary>
internal sealed class ProfileFormatException(IReadOnlyList<ProfileValidationError> errors)
    : Exception(string.Join("; ", errors))
{
    public IReadOnlyList<ProfileValidationError> Errors { get; } = errors;
}
