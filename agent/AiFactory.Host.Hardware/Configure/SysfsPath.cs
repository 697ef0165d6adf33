namespace AiFactory.Host.Hardware.Configure;

/// <summary>Joins a root with a relative kernel path, refusing anything that could leave the root.</summary>
public static class SysfsPath
{
    /// <summary>
    /// <paramref name="root"/> + <paramref name="relative"/>. Throws <see cref="ArgumentException"/> for an absolute
    /// path, an empty one, or one with a <c>..</c> or <c>.</c> segment (device names come from profiles and the API).
    /// </summary>
    public static string Combine(string root, string relative)
    {
        if (string.IsNullOrEmpty(relative) || relative[0] == '/' || relative.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"kernel path \"{relative}\" must be relative to the root", nameof(relative));
        }

        // Checked on spans: this runs for every attribute a plan reads (~1000 for a DGX), so no Split allocation.
        foreach (Range range in relative.AsSpan().Split('/'))
        {
            ReadOnlySpan<char> segment = relative.AsSpan()[range];
            if (segment is ".." or "." || segment.IsEmpty)
            {
                throw new ArgumentException($"kernel path \"{relative}\" has a \"{segment}\" segment", nameof(relative));
            }
        }

        return Path.Join(root, relative);
    }
}
