namespace AiFactory.Agent.Profile;

/// <summary>
/// What the start did with the node profile, for the systemd STATUS= line and aifactory-ready.target: applied (or
/// none to apply), or not applied and why (refused, failed, a damaged or pending journal, read-only).
/// </summary>
/// <param name="Applied">True when the node holds its profile, or has none.</param>
/// <param name="Line">One line: "node profile applied (FILE)", "no node profile", "node profile NOT applied: WHY".</param>
internal sealed record ProfileStartStatus(bool Applied, string Line)
{
    /// <summary>No profile to apply.</summary>
    public static readonly ProfileStartStatus None = new(true, "no node profile");

    /// <summary>Not applied, for <paramref name="why"/> (cut to one short line for the status).</summary>
    public static ProfileStartStatus NotApplied(string why)
    {
        string line = why.ReplaceLineEndings(" ");
        return new(false, "node profile NOT applied, aifactory-ready.target held: " + (line.Length > 300 ? line[..300] + "..." : line));
    }
}
