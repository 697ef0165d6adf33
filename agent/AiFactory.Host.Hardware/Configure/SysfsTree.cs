using System.Globalization;
using AiFactory.Host.Hardware.Sysfs;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// Reads the attributes the configure steps read back, under one root. Small attributes are read with one bounded
/// read and trimmed (sysfs files are one page at most; a retrying reader could see a half-updated value twice).
/// Missing files give null, never an exception.
/// </summary>
public sealed class SysfsTree(string root)
{
    private const int PathMax = 4096;

    /// <summary>The root the paths are relative to.</summary>
    public string Root { get; } = root;

    /// <summary>
    /// One attribute, trimmed; null when absent or unreadable. One bounded read(2) on an O_NONBLOCK descriptor, no
    /// stat first and no exception for a missing file: absent optional attributes are common, and a thrown
    /// FileNotFoundException costs far more than the read (the no-op re-apply reads ~1000 of them).
    /// </summary>
    public string? Read(string relativePath)
    {
        Span<byte> path = stackalloc byte[PathMax];
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize];
        int n = SysfsFile.Read(NativePath(relativePath, path), buffer, out SysfsFile.Status status, out _);
        return status == SysfsFile.Status.Ok ? System.Text.Encoding.ASCII.GetString(buffer[..n]).Trim() : null;
    }

    /// <summary>
    /// One attribute, trimmed, telling "absent" from "cannot be read": null with a null <paramref name="error"/> when
    /// the file does not exist, null with the errno in <paramref name="error"/> when it exists but the read failed.
    /// </summary>
    public string? Read(string relativePath, out string? error)
    {
        Span<byte> path = stackalloc byte[PathMax];
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize];
        int n = SysfsFile.Read(NativePath(relativePath, path), buffer, out SysfsFile.Status status, out int errno);
        error = status switch
        {
            SysfsFile.Status.Unreadable => Errno(errno),
            SysfsFile.Status.NotRegular => "not a regular file",
            _ => null,
        };
        return status == SysfsFile.Status.Ok ? System.Text.Encoding.ASCII.GetString(buffer[..n]).Trim() : null;
    }

    /// <summary>"errno 21 (Is a directory)".</summary>
    public static string Errno(int errno) =>
        $"errno {errno.ToString(CultureInfo.InvariantCulture)} ({System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)})";

    /// <summary>The NUL-terminated UTF-8 path of <paramref name="relativePath"/> under the root, in <paramref name="buffer"/>.</summary>
    private Span<byte> NativePath(string relativePath, Span<byte> buffer)
    {
        string full = SysfsPath.Combine(Root, relativePath);
        if (System.Text.Encoding.UTF8.GetMaxByteCount(full.Length) >= buffer.Length)
        {
            return SysfsFile.NativePath(full);
        }

        int n = System.Text.Encoding.UTF8.GetBytes(full, buffer);
        buffer[n] = 0;
        return buffer[..(n + 1)];
    }

    /// <summary>An integer attribute; null when absent or not a number.</summary>
    public long? ReadLong(string relativePath) =>
        long.TryParse(Read(relativePath), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) ? v : null;

    /// <summary>The last segment of a symlink's target (<c>driver</c> → "nvme", <c>iommu_group</c> → "7"), or null.</summary>
    public string? LinkName(string relativePath) => LinkName(relativePath, out _);

    /// <summary>
    /// Like <see cref="LinkName(string)"/>, telling "no link" (null, null <paramref name="error"/>: absent, or not a
    /// link) from a link that cannot be read (null, the errno in <paramref name="error"/>).
    /// </summary>
    public string? LinkName(string relativePath, out string? error)
    {
        Span<byte> path = NativePath(relativePath, stackalloc byte[PathMax]);
        Span<byte> buffer = stackalloc byte[SysfsFile.MaxSize];
        int n = SysfsFile.ReadLinkAt(Libc.AT_FDCWD, path, buffer, out int errno);
        error = n < 0 ? Errno(errno) : null;
        if (n <= 0)
        {
            return null;
        }

        ReadOnlySpan<byte> target = buffer[..n].TrimEnd((byte)'/');
        int slash = target.LastIndexOf((byte)'/');
        return System.Text.Encoding.UTF8.GetString(target[(slash + 1)..]);
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
