using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Hardware.Discovery;

/// <summary>Collects what one discovery pass could not read or parse; readers add, discovery returns them.</summary>
public sealed class DiscoveryWarnings
{
    private const int MaxRaw = 80;
    private readonly List<DiscoveryWarning> _items = [];

    /// <summary>The warnings so far, in the order they were found.</summary>
    public IReadOnlyList<DiscoveryWarning> Items => _items;

    /// <summary>Adds a warning; <paramref name="raw"/> is shortened and control characters made visible.</summary>
    public void Add(string path, string? raw, string message) => _items.Add(new DiscoveryWarning(path, Shorten(raw), message));

    /// <summary>Appends the warnings of <paramref name="other"/> (a part read on another thread), in their order.</summary>
    internal void AddFrom(DiscoveryWarnings other) => _items.AddRange(other._items);

    private static string? Shorten(string? raw)
    {
        if (raw is null)
        {
            return null;
        }

        string s = raw.Length > MaxRaw ? raw[..MaxRaw] + "…" : raw;
        foreach (char c in s)
        {
            if (char.IsControl(c))
            {
                return string.Create(s.Length, s, static (dest, src) =>
                {
                    for (int i = 0; i < src.Length; i++)
                    {
                        dest[i] = char.IsControl(src[i]) ? '?' : src[i];
                    }
                });
            }
        }

        return s;
    }
}
