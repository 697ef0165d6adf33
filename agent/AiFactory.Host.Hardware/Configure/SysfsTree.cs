using System.Globalization;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// Reads the attributes the configure steps read back, under one root. Small attributes are read with one bounded
/// read and trimmed (sysfs files are one page at most; a retrying reader could see a half-updated value twice).
/// Missing files give null, never an exception.
/// </summary>
public sealed class SysfsTree(string root)
{
    /// <summary>The root the paths are relative to.</summary>
    public string Root { get; } = root;

    /// <summary>The trimmed content of an attribute, or null when it is absent or unreadable.</summary>
    public string? Read(string relativePath)
    {
        string path = SysfsPath.Combine(Root, relativePath);

        // Optional attributes are often absent: a stat is far cheaper than a thrown FileNotFoundException.
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            Span<byte> buffer = stackalloc byte[4096];
            int n = RandomAccess.Read(handle, buffer, 0);
            return System.Text.Encoding.ASCII.GetString(buffer[..n]).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>An attribute as an integer, or null when absent or not a number.</summary>
    public long? ReadLong(string relativePath) =>
        long.TryParse(Read(relativePath), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v : null;

    /// <summary>The last segment of a symlink's target (<c>driver</c> → "nvme", <c>iommu_group</c> → "7"), or null.</summary>
    public string? LinkName(string relativePath)
    {
        string path = SysfsPath.Combine(Root, relativePath);
        try
        {
            var info = new FileInfo(path);
            string? target = info.LinkTarget;
            return target is null ? null : Path.GetFileName(target.TrimEnd('/'));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>True when the file or directory exists.</summary>
    public bool Exists(string relativePath)
    {
        string path = SysfsPath.Combine(Root, relativePath);
        return File.Exists(path) || Directory.Exists(path);
    }

    /// <summary>The names in a directory (empty when absent).</summary>
    public IReadOnlyList<string> List(string relativePath)
    {
        string path = SysfsPath.Combine(Root, relativePath);
        try
        {
            return [.. Directory.EnumerateFileSystemEntries(path).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
