using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>The <c>dirfd</c> meaning "relative to the working directory" (an absolute path ignores it).</summary>
        public const int AT_FDCWD = -100;
        public const int O_RDONLY = 0;
        public const int O_NOCTTY = 0x100;
        public const int O_NONBLOCK = 0x800;
        public const int O_DIRECTORY = 0x10000;

        /// <summary><c>int openat(int dirfd, const char *path, int flags)</c>: <paramref name="path"/> is null-terminated.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "openat", SetLastError = true)]
        public static unsafe partial int OpenAt(int dirFd, byte* path, int flags);
    }
}
