using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Configure;

/// <summary>
/// The real writer: one <c>pwrite</c> at offset 0 per attribute (sysfs store handlers take the whole value in one
/// call and answer with an errno; a buffered or retried write would split or repeat it). The file is opened with
/// <c>O_TRUNC</c>, as a shell's <c>echo 10 &gt; attr</c> does: a sysfs attribute ignores it, and a regular file (a
/// fixture tree) then holds exactly the value written ("10" over "4096" reads back "10", not "1096").
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
        // Opened directly: the open's own errno (ENOENT for a missing attribute, EACCES) reaches the message, and no
        // advisory lock of .NET's is taken on a kernel attribute.
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_TRUNC | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new SysfsWriteException(relativePath, value, errno, "open: " + Marshal.GetPInvokeErrorMessage(errno));
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            RandomAccess.Write(handle, Encoding.ASCII.GetBytes(value), 0);
        }
        catch (IOException ex)
        {
            // .NET keeps the errno of a failed write as the HResult (EBUSY, EINVAL, ENODEV from a store handler).
            throw new SysfsWriteException(relativePath, value, ex.HResult is > 0 and < 4096 ? ex.HResult : 0, ex.Message);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new SysfsWriteException(relativePath, value, 13, ex.Message);
        }
    }
}
