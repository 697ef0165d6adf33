using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary><c>ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)</c>: no terminating NUL is written.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "readlinkat", SetLastError = true)]
        public static unsafe partial nint ReadLinkAt(int dirFd, byte* path, byte* buffer, nint size);
    }
}
