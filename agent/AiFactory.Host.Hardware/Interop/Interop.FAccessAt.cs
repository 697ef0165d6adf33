using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>The <c>access</c> mode that tests existence only.</summary>
        public const int F_OK = 0;

        /// <summary><c>int faccessat(int dirfd, const char *path, int mode, int flags)</c>; follows links.</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "faccessat", SetLastError = true)]
        public static unsafe partial int FAccessAt(int dirFd, byte* path, int mode, int flags);
    }
}
