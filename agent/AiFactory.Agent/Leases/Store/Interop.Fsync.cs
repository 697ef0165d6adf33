using System.Runtime.InteropServices;

namespace AiFactory.Agent.Leases.Store;

/// <summary>libc calls the checkpoint needs and .NET lacks: fsync of a directory after a rename.</summary>
internal static partial class Interop
{
    private const string Libc = "libc";
    private const int ORdOnly = 0;
    private const int ODirectory = 0x10000;

    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport(Libc, EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>fsync(2) on a directory, so a rename inside it is durable; returns errno, 0 on success.</summary>
    public static int FsyncDirectory(string path)
    {
        int fd = Open(path, ORdOnly | ODirectory);
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
