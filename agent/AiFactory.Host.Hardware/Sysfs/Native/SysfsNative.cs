using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Sysfs.Native;

/// <summary>
/// The few libc calls the sysfs readers need, raw. <c>open</c> with <c>O_NONBLOCK</c> is the point: a FIFO or a
/// device node planted in a tree never blocks discovery, and one <c>read</c> of a bounded buffer never retries.
/// </summary>
internal static unsafe partial class SysfsNative
{
    private const string Libc = "libc";

    public const int O_RDONLY = 0;
    public const int O_NOCTTY = 0x100;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    [LibraryImport(Libc, EntryPoint = "open", SetLastError = true)]
    public static partial int Open(byte* path, int flags);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport(Libc, EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "readlink", SetLastError = true)]
    public static partial nint ReadLink(byte* path, byte* buffer, nint size);

    [LibraryImport(Libc, EntryPoint = "opendir", SetLastError = true)]
    public static partial nint OpenDir(byte* path);

    [LibraryImport(Libc, EntryPoint = "readdir")]
    public static partial nint ReadDir(nint dir);

    [LibraryImport(Libc, EntryPoint = "closedir")]
    public static partial int CloseDir(nint dir);

    /// <summary>Offset of <c>d_name</c> in glibc's 64-bit <c>struct dirent</c> (d_ino 8, d_off 8, d_reclen 2, d_type 1).</summary>
    public const int DirentNameOffset = 19;
}
