namespace AiFactory.Host.Model.Profile;

/// <summary>Why a profile cannot be applied: the field (<c>sriov[0].numVfs</c>) and the reason.</summary>
/// <param name="Field">The path of the field in the profile.</param>
/// <param name="Reason">What is wrong with it, with the values involved.</param>
public sealed record ProfileValidationError(string Field, string Reason)
{
    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Reason}";
}
