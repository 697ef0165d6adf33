using System.Runtime.InteropServices;

namespace AiFactory.Agent.Leases.Store;

/// <summary>libc calls the checkpoint needs and .NET lacks: fsync of a directory after a rename.</summary>
internal static partial class Interop
{
    private const string Libc = "libc";
    private const int ORdOnly = 0;

    // The same on x86-64 and arm64. O_DIRECTORY is not (0x10000 on x86-64 is O_DIRECT on arm64, the Grace nodes'
    // architecture), and fsync needs only a descriptor, so the directory is opened read-only without it.
    private const int OCloExec = 0x80000;

    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport(Libc, EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>fsync(2) on a directory, so a rename inside it is durable; returns errno, 0 on success.</summary>
    public static int FsyncDirectory(string path)
    {
        int fd = Open(path, ORdOnly | OCloExec);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        int rc = Fsync(fd);
        int errno = rc < 0 ? Marshal.GetLastPInvokeError() : 0;
        _ = Close(fd);
        return errno;
    }
}
