using System.Text;
using Microsoft.Win32.SafeHandles;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The real writer: one <c>pwrite</c> at offset 0 per attribute (sysfs store handlers take the whole value in one
/// call and answer with an errno; a buffered or retried write would split or repeat it).
/// </summary>
public sealed class SysfsWriter(string root) : ISysfsWriter
{
    private int _writes;

    /// <inheritdoc />
    public string Root { get; } = root;

    /// <inheritdoc />
    public int WriteCount => Volatile.Read(ref _writes);

    /// <inheritdoc />
    public void Write(string relativePath, string value)
    {
        string path = SysfsPath.Combine(Root, relativePath);
        Interlocked.Increment(ref _writes);
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
            RandomAccess.Write(handle, Encoding.ASCII.GetBytes(value), 0);
        }
        catch (IOException ex) when (ex is not SysfsWriteException)
        {
            throw new SysfsWriteException(relativePath, value, ex.HResult is > 0 and < 4096 ? ex.HResult : 0, ex.Message);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new SysfsWriteException(relativePath, value, 13, ex.Message);
        }
    }
}
