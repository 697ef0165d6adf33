namespace AiFactory.Host.Hardware.Fixtures;

/// <summary>
/// The directories <see cref="TextArchive.Extract(IReadOnlyList{ArchiveEntry}, string)"/> has made or checked below its
/// destination. Each component of an entry's parent is looked at without following it (<c>lstat</c>) and created when
/// missing; one that is a symbolic link or a file refuses the entry, so that nothing lands outside the destination
/// through a link the same archive made earlier. A checked directory stays one (a link never replaces a directory),
/// so each is looked at once.
/// </summary>
internal sealed class ExtractedTree(string root)
{
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);

    /// <summary>Makes sure the parent of <paramref name="relative"/> is a real directory inside the tree.</summary>
    public void EnsureParent(string relative)
    {
        int slash = relative.LastIndexOf('/');
        if (slash > 0)
        {
            EnsureDirectory(relative[..slash], relative);
        }
    }

    /// <summary>Makes sure <paramref name="directory"/> and every directory above it are real directories inside the tree.</summary>
    /// <param name="directory">The directory, relative to the root.</param>
    /// <param name="entry">The entry being extracted, for the message.</param>
    public void EnsureDirectory(string directory, string entry)
    {
        if (_directories.Contains(directory))
        {
            return;
        }

        int slash = directory.LastIndexOf('/');
        if (slash > 0)
        {
            EnsureDirectory(directory[..slash], entry);
        }

        string full = root + "/" + directory;
        if (IsLink(full))
        {
            throw new InvalidDataException($"{entry}: {directory} is a symlink; nothing is written through a link");
        }

        if (File.Exists(full))
        {
            throw new InvalidDataException($"{entry}: {directory} is not a directory");
        }

        Directory.CreateDirectory(full);
        _directories.Add(directory);
    }

    /// <summary>True when <paramref name="full"/> is a symbolic link (dangling or not); the link is not followed.</summary>
    public bool IsLink(string full) => new FileInfo(full).LinkTarget is not null;
}
