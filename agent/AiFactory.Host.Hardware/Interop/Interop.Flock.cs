using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>Shared lock.</summary>
        public const int LOCK_SH = 1;

        /// <summary>Exclusive lock.</summary>
        public const int LOCK_EX = 2;

        /// <summary>Fail with EWOULDBLOCK (EAGAIN) instead of waiting.</summary>
        public const int LOCK_NB = 4;

        /// <summary>
        /// <c>int flock(int fd, int operation)</c>: an advisory lock on the open file description, released when
        /// the last descriptor of it is closed, the process's death included.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "flock", SetLastError = true)]
        public static partial int Flock(SafeFileHandle fd, int operation);
    }
}
