using System.Runtime.InteropServices;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// What one <c>statx</c> of a path says that changes whenever the file there is replaced or rewritten: the identity
/// of the file (<c>st_dev</c>, <c>st_ino</c>: a file renamed over it, as <c>mv new crl.pem</c> does, is another
/// inode; a symbolic link swapped to another target leads to another one too), its size, and its modification and
/// change times to the nanosecond (a rewrite in place). Comparing two costs one system call and reads nothing, so a
/// setting's file can be polled every few seconds for a reload.
/// </summary>
/// <param name="Device">The <c>st_dev</c> of the file system holding the file, as <c>makedev</c> builds it.</param>
/// <param name="Inode">The <c>st_ino</c>.</param>
/// <param name="Size">The length in bytes.</param>
/// <param name="ModifiedNanoseconds"><c>st_mtime</c>, in nanoseconds since the epoch.</param>
/// <param name="ChangedNanoseconds"><c>st_ctime</c>, in nanoseconds since the epoch.</param>
public readonly record struct FileVersion(ulong Device, ulong Inode, ulong Size, long ModifiedNanoseconds, long ChangedNanoseconds)
{
    private const uint Mask = Libc.STATX_TYPE | Libc.STATX_INO | Libc.STATX_SIZE | Libc.STATX_MTIME | Libc.STATX_CTIME;

    /// <summary>When the file's content was last written.</summary>
    public DateTimeOffset Modified => DateTimeOffset.UnixEpoch.AddTicks(ModifiedNanoseconds / 100);

    /// <summary>
    /// The version of the file at <paramref name="path"/>, symbolic links followed (a setting may name a link that an
    /// operator or a secret mount repoints); null when nothing is there or the link dangles.
    /// </summary>
    /// <exception cref="IOException">statx failed for another reason than a missing file (EACCES, ELOOP, ...).</exception>
    public static FileVersion? OfPath(string path)
    {
        if (Libc.Statx(Libc.AT_FDCWD, path, 0, Mask, out Libc.StatxBuffer b) == 0)
        {
            return new FileVersion(
                FileIdentity.MakeDev(b.DevMajor, b.DevMinor),
                b.Inode,
                b.Size,
                (b.ModifiedSeconds * 1_000_000_000) + b.ModifiedNanoseconds,
                (b.ChangedSeconds * 1_000_000_000) + b.ChangedNanoseconds);
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno is Libc.ENOENT or Libc.ENOTDIR ? null : throw new IOException($"{path}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }
}
