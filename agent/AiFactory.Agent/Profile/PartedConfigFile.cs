using AiFactory.Host.Hardware.Files;

namespace AiFactory.Agent.Profile;

/// <summary>
/// Reads the mig-parted file a profile names in <c>mig.partedConfig</c>. Whoever may plan a profile names that path,
/// and the agent reads it as root, so it is confined (<see cref="ConfinedFile"/>): an absolute path in one of the
/// allowed directories, no <c>..</c>, no symbolic link out of the directory, a regular file of at most 1 MiB; and what
/// goes wrong is said by path, line and column, never by quoting the file.
/// </summary>
internal static class PartedConfigFile
{
    /// <summary>The most a mig-parted file may hold; NVIDIA's own default config is about 20 KiB.</summary>
    public const int MaxBytes = 1024 * 1024;

    public static string Read(IReadOnlyList<string> directories, string path)
    {
        foreach (string directory in directories)
        {
            if (path.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal))
            {
                return ConfinedFile.ReadText(directory, path, MaxBytes);
            }
        }

        throw new IOException($"{path}: must be a file below {string.Join(" or ", directories.Select(d => d.TrimEnd('/') + "/"))}");
    }
}
