using AiFactory.Host.Hardware.Discovery;

namespace AiFactory.Host.Hardware.Sysfs;

/// <summary>
/// One sysfs directory opened once (a device, a node): its attributes and links are read with <c>openat</c> and
/// <c>readlinkat</c> relative to it. When it was listed, names that are not in the listing are missing without a
/// system call; the listing itself is what the rescan checks for a new or removed attribute.
/// </summary>
internal sealed class SysfsDirectory : IDisposable
{
    private readonly SysfsRoot _root;
    private readonly DirectoryLocation _location;
    private readonly SysfsRecording.RecordedDirectory? _record;
    private readonly DirectoryEntries? _entries;
    private bool _disposed;

    internal SysfsDirectory(SysfsRoot root, DirectoryLocation location, SysfsRecording.RecordedDirectory? record, DirectoryEntries? entries)
    {
        _root = root;
        _location = location;
        _record = record;
        _entries = entries;
    }

    /// <summary>Where the directory is: its descriptor, shared by the reads of forks on other threads.</summary>
    internal DirectoryLocation Location => _location;

    /// <summary>The directory relative to the root.</summary>
    public string Relative => _location.Relative;

    /// <summary>The kernel path of <paramref name="name"/> in this directory, for warnings.</summary>
    public string DisplayPath(string name) => SysfsRoot.DisplayPath(_location.Relative + "/" + name);

    /// <summary>The names listed, sorted ordinally; empty when not listed or not listable.</summary>
    public List<string> Names() => _entries?.Names() ?? [];

    /// <summary>Reads the attribute <paramref name="name"/>; see <see cref="SysfsRoot.ReadAttribute(string, DiscoveryWarnings, bool)"/>.</summary>
    public string? ReadAttribute(string name, DiscoveryWarnings warnings, bool changesConstantly = false) =>
        MayHave(name) ? _root.ReadAttribute(_location, name, warnings, changesConstantly, _record) : null;

    /// <summary>Reads the CPU list <paramref name="name"/>; see <see cref="SysfsRoot.ReadList(string, DiscoveryWarnings)"/>.</summary>
    public string? ReadList(string name, DiscoveryWarnings warnings) =>
        MayHave(name) ? _root.ReadList(_location, name, warnings, _record) : null;

    /// <summary>Resolves the link <paramref name="name"/>; see <see cref="SysfsRoot.ResolveLink(string, DiscoveryWarnings)"/>.</summary>
    public string? ResolveLink(string name, DiscoveryWarnings warnings) =>
        MayHave(name) ? _root.ResolveLink(_location, name, warnings, _record) : null;

    /// <summary>The last component of the link's target, or null.</summary>
    public string? ReadLinkName(string name, DiscoveryWarnings warnings) => SysfsRoot.LastComponent(ResolveLink(name, warnings));

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _entries?.Dispose();
        if (_location.Fd >= 0)
        {
            SysfsFile.Close(_location.Fd);
        }
    }

    private bool MayHave(string name) => _entries is null || _entries.Contains(name);
}
