using AiFactory.Host.Hardware.Discovery;

namespace AiFactory.Host.Hardware.Procfs;

/// <summary>Reads <c>/proc/cmdline</c>: the kernel command line (iommu, hugepages, isolcpus settings).</summary>
public static class CmdlineReader
{
    /// <summary>The command line, trimmed; null when missing.</summary>
    public static string? Read(ProcfsRoot root, DiscoveryWarnings warnings) => Parse(root.ReadSmallFile("cmdline", warnings));

    /// <summary>Trims the trailing newline and NUL padding; null stays null.</summary>
    public static string? Parse(string? raw) => raw?.TrimEnd('\n', '\0', ' ');

    /// <summary>The value of <c>key=value</c> in <paramref name="cmdline"/> (the last one wins, as in the kernel), or null.</summary>
    public static string? Parameter(string? cmdline, string key)
    {
        if (cmdline is null)
        {
            return null;
        }

        string? value = null;
        foreach (string part in cmdline.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.Length > key.Length && part.StartsWith(key, StringComparison.Ordinal) && part[key.Length] == '=')
            {
                value = part[(key.Length + 1)..];
            }
            else if (part == key)
            {
                value = string.Empty;
            }
        }

        return value;
    }
}
