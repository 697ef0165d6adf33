using System.Runtime.InteropServices;
using static AiFactory.Host.Hardware.Interop.Interop;

namespace AiFactory.Host.Hardware.Files;

/// <summary>
/// What <c>lstat</c>/<c>fstat</c> say about a file: its type and its identity (<c>st_dev</c>, <c>st_ino</c>). The
/// managed file APIs tell neither a socket from a regular file nor one file from another put in its place.
/// </summary>
/// <param name="Mode">The <c>st_mode</c> bits: type and permissions.</param>
/// <param name="Device">The <c>st_dev</c> of the file system holding the file, as <c>makedev</c> builds it.</param>
/// <param name="Inode">The <c>st_ino</c>.</param>
public readonly record struct FileIdentity(uint Mode, ulong Device, ulong Inode)
{
    private const uint TypeMask = 0xF000;  // S_IFMT
    private const uint SocketType = 0xC000; // S_IFSOCK
    private const uint RegularType = 0x8000; // S_IFREG
    private const uint DirectoryType = 0x4000; // S_IFDIR

    /// <summary>True for a Unix socket (<c>S_ISSOCK</c>).</summary>
    public bool IsSocket => (Mode & TypeMask) == SocketType;

    /// <summary>True for a regular file (<c>S_ISREG</c>): not a directory, device, FIFO or socket.</summary>
    public bool IsRegularFile => (Mode & TypeMask) == RegularType;

    /// <summary>True for a directory (<c>S_ISDIR</c>).</summary>
    public bool IsDirectory => (Mode & TypeMask) == DirectoryType;

    /// <summary>The file type in words, for a message: "a regular file", "a FIFO", "a character device", "a symbolic link", ...</summary>
    public string TypeName => (Mode & TypeMask) switch
    {
        RegularType => "a regular file",
        DirectoryType => "a directory",
        SocketType => "a socket",
        0xA000 => "a symbolic link",
        0x1000 => "a FIFO",
        0x2000 => "a character device",
        0x6000 => "a block device",
        _ => "a special file",
    };

    /// <summary>The file at <paramref name="path"/> itself, not what a symbolic link there points to; null when nothing is there.</summary>
    /// <exception cref="IOException">statx failed for another reason than a missing file (EACCES, ELOOP, ...).</exception>
    public static FileIdentity? OfPath(string path) => OfPath(path, followLinks: false);

    /// <summary>
    /// The file at <paramref name="path"/>, or with <paramref name="followLinks"/> what a symbolic link there points to;
    /// null when nothing is there (or the link dangles).
    /// </summary>
    /// <exception cref="IOException">statx failed for another reason than a missing file (EACCES, ELOOP, ...).</exception>
    public static FileIdentity? OfPath(string path, bool followLinks)
    {
        int flags = followLinks ? 0 : Libc.AT_SYMLINK_NOFOLLOW;
        if (Libc.Statx(Libc.AT_FDCWD, path, flags, Libc.STATX_TYPE | Libc.STATX_INO, out Libc.StatxBuffer buffer) == 0)
        {
            return From(buffer);
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno is Libc.ENOENT or Libc.ENOTDIR ? null : throw new IOException($"{path}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>The file open as descriptor <paramref name="fd"/> (0, 1, 2: stdin, stdout, stderr); null when it is not open.</summary>
    public static FileIdentity? OfDescriptor(int fd) =>
        Libc.Statx(fd, string.Empty, Libc.AT_EMPTY_PATH, Libc.STATX_TYPE | Libc.STATX_INO, out Libc.StatxBuffer buffer) == 0 ? From(buffer) : null;

    /// <summary>glibc's <c>makedev</c>: the <c>st_dev</c> that <c>stat(2)</c> reports and systemd writes into <c>$JOURNAL_STREAM</c>.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xFFFFF000) << 32) | ((ulong)(major & 0xFFF) << 8) | ((ulong)(minor & 0xFFFFFF00) << 12) | (minor & 0xFF);

    private static FileIdentity From(Libc.StatxBuffer buffer) => new(buffer.Mode, MakeDev(buffer.DevMajor, buffer.DevMinor), buffer.Inode);
}
