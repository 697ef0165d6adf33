using AiFactory.Host.Model.Topology;

namespace AiFactory.Host.Hardware.Discovery;

/// <summary>Collects what one discovery pass could not read or parse; readers add, discovery returns them.</summary>
public sealed class DiscoveryWarnings
{
    private readonly List<DiscoveryWarning> _items = [];

    /// <summary>The warnings so far, in the order they were found.</summary>
    public IReadOnlyList<DiscoveryWarning> Items => _items;

    /// <summary>Adds a warning; <paramref name="raw"/> is shortened and control characters made visible (<see cref="RawText.Quote(string)"/>).</summary>
    public void Add(string path, string? raw, string message) => _items.Add(new DiscoveryWarning(path, Shorten(raw), message));

    /// <summary>Appends the warnings of <paramref name="other"/> (a part read on another thread), in their order.</summary>
    internal void AddFrom(DiscoveryWarnings other) => _items.AddRange(other._items);

    private static string? Shorten(string? raw) => raw is null ? null : RawText.Quote(raw);
}
