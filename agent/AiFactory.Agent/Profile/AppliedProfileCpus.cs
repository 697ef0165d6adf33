using AiFactory.Host.Hardware.Files;
using AiFactory.Host.Model.Profile;

namespace AiFactory.Agent.Profile;

/// <summary>
/// The <c>cpus</c> section of the profile this agent applied last (<see cref="ProfileEnvironment.StoredProfilePath"/>,
/// written after every apply that succeeded): the units it confined with <c>AllowedCPUs=</c>, and to what. A profile
/// that drops the section, or a unit, has those units reset (<see cref="ProfileCurrentState.AppliedCpus"/>); units the
/// agent never set are left alone. The file is read before each plan and parsed again only when its text changes.
/// </summary>
internal sealed class AppliedProfileCpus(string path)
{
    private Entry? _last;

    /// <summary>The section (null: none, or no profile applied yet), or why the file cannot be read or parsed.</summary>
    public (CpuProfile? Cpus, string? Unknown) Read()
    {
        string? text;
        try
        {
            text = BoundedFile.ReadText(path, ProfileYaml.MaxBytes);
        }
        catch (BoundedFileException ex)
        {
            return (null, ex.Message);
        }

        if (text is null)
        {
            return (null, null);
        }

        if (Volatile.Read(ref _last) is { } last && string.Equals(last.Text, text, StringComparison.Ordinal))
        {
            return (last.Cpus, last.Unknown);
        }

        Entry entry;
        try
        {
            entry = new Entry(text, ProfileYaml.Parse(text).Cpus, null);
        }
        catch (ProfileFormatException ex)
        {
            entry = new Entry(text, null, $"{path} does not parse: {ex.Message}");
        }

        Volatile.Write(ref _last, entry);
        return (entry.Cpus, entry.Unknown);
    }

    private sealed record Entry(string Text, CpuProfile? Cpus, string? Unknown);
}
