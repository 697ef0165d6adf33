using System.Globalization;
using System.Text;

namespace AiFactory.Host.Hardware.Fixtures;

/// <summary>
/// The hardware-fixture format: a text archive of a /sys and /proc tree, after prometheus/procfs' ttar.
/// Records are separated by <c># ttar - - -</c> lines:
/// <code>
/// Directory: sys/bus/pci
/// Mode: 755
/// Path: sys/bus/pci/devices/0000:18:00.0/vendor
/// Lines: 1
/// 0x10de
/// Mode: 444
/// Path: sys/bus/pci/devices/0000:18:00.0
/// SymlinkTo: ../../../devices/pci0000:15/0000:15:01.0/0000:16:00.0/0000:17:00.0/0000:18:00.0
/// Path: sys/bus/pci/devices/0000:18:00.0/config
/// Hex: 8
/// de103023...
/// </code>
/// In <c>Lines:</c> bodies a zero byte is written <c>NULLBYTE</c> and a last line without a newline ends in <c>EOF</c>.
/// <c>Hex:</c> (binary files such as PCI config space) is our addition. tools/fixture.sh is the shell twin.
/// </summary>
public static class TextArchive
{
    private const string Separator = "# ttar - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -";

    /// <summary>Parses an archive. Throws <see cref="InvalidDataException"/> naming the line for malformed input or a path that leaves the tree.</summary>
    public static IReadOnlyList<ArchiveEntry> Parse(TextReader reader)
    {
        var entries = new List<ArchiveEntry>();
        var lines = new List<string>();
        while (reader.ReadLine() is { } l)
        {
            lines.Add(l);
        }

        int i = 0;
        while (i < lines.Count)
        {
            string line = lines[i];
            if (line.Length == 0 || line.StartsWith('#'))
            {
                i++;
                continue;
            }

            if (line.StartsWith("Directory: ", StringComparison.Ordinal))
            {
                string path = CheckPath(line[11..], i);
                i++;
                int mode = ReadMode(lines, ref i, 0b111_101_101);
                entries.Add(new ArchiveEntry(path, ArchiveEntryKind.Directory, null, null, mode));
                continue;
            }

            if (!line.StartsWith("Path: ", StringComparison.Ordinal) || i + 1 >= lines.Count)
            {
                throw new InvalidDataException($"line {i + 1}: expected Directory: or Path:, found \"{Short(line)}\"");
            }

            string file = CheckPath(line[6..], i);
            string kind = lines[i + 1];
            i += 2;
            if (kind.StartsWith("SymlinkTo: ", StringComparison.Ordinal))
            {
                entries.Add(new ArchiveEntry(file, ArchiveEntryKind.Symlink, null, kind[11..], 0));
                continue;
            }

            byte[] content;
            if (kind.StartsWith("Lines: ", StringComparison.Ordinal) && int.TryParse(kind.AsSpan(7), NumberStyles.None, CultureInfo.InvariantCulture, out int count) && i + count <= lines.Count)
            {
                content = DecodeLines(lines, i, count);
            }
            else if (kind.StartsWith("Hex: ", StringComparison.Ordinal) && int.TryParse(kind.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out count) && i + count <= lines.Count)
            {
                try
                {
                    content = Convert.FromHexString(string.Concat(lines.GetRange(i, count)));
                }
                catch (FormatException)
                {
                    throw new InvalidDataException($"line {i + 1}: bad hex body for {file}");
                }
            }
            else
            {
                throw new InvalidDataException($"line {i}: expected Lines: N, Hex: N or SymlinkTo: after Path: {file}");
            }

            i += count;
            int fileMode = ReadMode(lines, ref i, 0b110_100_100);
            entries.Add(new ArchiveEntry(file, ArchiveEntryKind.File, content, null, fileMode));
        }

        return entries;
    }

    /// <summary>Unpacks an archive file into <paramref name="destination"/> (which gets sys/ and proc/). Links that would leave it are refused.</summary>
    public static void Extract(string archivePath, string destination)
    {
        using var reader = new StreamReader(archivePath, Encoding.UTF8);
        Extract(Parse(reader), destination);
    }

    /// <summary>
    /// Creates the entries under <paramref name="destination"/>. Nothing is written, created or removed through a
    /// symbolic link: an entry whose parent path holds a link (an archive that makes <c>sys/d</c> a link to <c>..</c>
    /// and then writes <c>sys/d/e/x</c>), or that is itself a link when a file is to be written, is refused with
    /// <see cref="InvalidDataException"/>, and a link replaces only a file or link inside the tree.
    /// </summary>
    public static void Extract(IReadOnlyList<ArchiveEntry> entries, string destination)
    {
        string root = Path.GetFullPath(destination).TrimEnd('/');
        Directory.CreateDirectory(root);
        var tree = new ExtractedTree(root);
        var directoryModes = new List<(string Path, int Mode)>();
        foreach (ArchiveEntry e in entries)
        {
            string full = root + "/" + e.Path;
            switch (e.Kind)
            {
                case ArchiveEntryKind.Directory:
                    tree.EnsureDirectory(e.Path, e.Path);
                    directoryModes.Add((full, e.Mode | 0b111_000_000));
                    break;
                case ArchiveEntryKind.File:
                    tree.EnsureParent(e.Path);
                    if (tree.IsLink(full))
                    {
                        throw new InvalidDataException($"{e.Path} is a symlink; nothing is written through a link");
                    }

                    File.WriteAllBytes(full, e.Content!);
                    File.SetUnixFileMode(full, (UnixFileMode)e.Mode);
                    break;
                case ArchiveEntryKind.Symlink:
                    string resolved = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(full)!, e.LinkTarget!));
                    if (e.LinkTarget!.StartsWith('/') || !resolved.StartsWith(root + "/", StringComparison.Ordinal))
                    {
                        throw new InvalidDataException($"symlink {e.Path} -> {e.LinkTarget} leaves the tree");
                    }

                    tree.EnsureParent(e.Path);
                    if (Directory.Exists(full) && !tree.IsLink(full))
                    {
                        throw new InvalidDataException($"symlink {e.Path}: a directory is in the way");
                    }

                    if (Path.Exists(full) || tree.IsLink(full))
                    {
                        File.Delete(full);
                    }

                    File.CreateSymbolicLink(full, e.LinkTarget);
                    break;
            }
        }

        // Directory modes last (a read-only directory would stop its own entries), innermost first. Directories are
        // never replaced by links (refused above), so these paths still hold the directories created here.
        for (int i = directoryModes.Count - 1; i >= 0; i--)
        {
            File.SetUnixFileMode(directoryModes[i].Path, (UnixFileMode)directoryModes[i].Mode);
        }
    }

    /// <summary>Writes entries as an archive.</summary>
    public static void Write(TextWriter writer, IEnumerable<ArchiveEntry> entries, string header)
    {
        writer.Write("# " + header + "\n");
        foreach (ArchiveEntry e in entries)
        {
            switch (e.Kind)
            {
                case ArchiveEntryKind.Directory:
                    writer.Write($"Directory: {e.Path}\nMode: {Convert.ToString(e.Mode, 8)}\n");
                    break;
                case ArchiveEntryKind.Symlink:
                    writer.Write($"Path: {e.Path}\nSymlinkTo: {e.LinkTarget}\n");
                    break;
                default:
                    WriteFile(writer, e);
                    break;
            }

            writer.Write(Separator + "\n");
        }
    }

    private static void WriteFile(TextWriter writer, ArchiveEntry e)
    {
        byte[] content = e.Content ?? [];
        string? text = AsText(content);
        writer.Write($"Path: {e.Path}\n");
        if (text is null)
        {
            string hex = Convert.ToHexStringLower(content);
            int count = (hex.Length + 63) / 64;
            writer.Write($"Hex: {count}\n");
            for (int j = 0; j < hex.Length; j += 64)
            {
                writer.Write(hex.AsSpan(j, Math.Min(64, hex.Length - j)));
                writer.Write('\n');
            }
        }
        else
        {
            var body = new List<string>(text.Replace("\0", "NULLBYTE", StringComparison.Ordinal).Split('\n'));
            if (body[^1].Length == 0)
            {
                body.RemoveAt(body.Count - 1);
            }
            else
            {
                body[^1] += "EOF";
            }

            writer.Write($"Lines: {body.Count}\n");
            foreach (string b in body)
            {
                writer.Write(b + "\n");
            }
        }

        writer.Write($"Mode: {Convert.ToString(e.Mode, 8)}\n");
    }

    private static string? AsText(byte[] content)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        foreach (char c in text)
        {
            if ((c < 32 && c is not '\n' and not '\t' and not '\0') || c == 127)
            {
                return null;
            }
        }

        return text.Contains("NULLBYTE", StringComparison.Ordinal) || text.Contains("EOF\n", StringComparison.Ordinal) || text.EndsWith("EOF", StringComparison.Ordinal) ? null : text;
    }

    private static byte[] DecodeLines(List<string> lines, int start, int count)
    {
        var sb = new StringBuilder();
        for (int j = 0; j < count; j++)
        {
            string l = lines[start + j];
            bool newline = true;
            if (j == count - 1 && l.EndsWith("EOF", StringComparison.Ordinal))
            {
                l = l[..^3];
                newline = false;
            }

            sb.Append(l.Replace("NULLBYTE", "\0", StringComparison.Ordinal));
            if (newline)
            {
                sb.Append('\n');
            }
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static int ReadMode(List<string> lines, ref int i, int fallback)
    {
        if (i < lines.Count && lines[i].StartsWith("Mode: ", StringComparison.Ordinal))
        {
            int mode = Convert.ToInt32(lines[i][6..], 8);
            i++;
            return mode & 0b111_111_111;
        }

        return fallback;
    }

    private static string CheckPath(string path, int line)
    {
        if (path.Length == 0 || path.StartsWith('/') || path.Split('/').Any(p => p is ".." or "." or ""))
        {
            throw new InvalidDataException($"line {line + 1}: path \"{Short(path)}\" leaves the tree");
        }

        return path;
    }

    private static string Short(string s) => s.Length <= 80 ? s : s[..80] + "…";
}

/// <summary>One record of a <see cref="TextArchive"/>.</summary>
/// <param name="Path">Relative path (<c>sys/...</c> or <c>proc/...</c>).</param>
/// <param name="Kind">Directory, file or symlink.</param>
/// <param name="Content">A file's bytes.</param>
/// <param name="LinkTarget">A symlink's target, relative.</param>
/// <param name="Mode">Permission bits.</param>
public sealed record ArchiveEntry(string Path, ArchiveEntryKind Kind, byte[]? Content, string? LinkTarget, int Mode);

/// <summary>The kind of an archive record.</summary>
public enum ArchiveEntryKind
{
    /// <summary>A directory.</summary>
    Directory,

    /// <summary>A regular file.</summary>
    File,

    /// <summary>A symbolic link.</summary>
    Symlink,
}
