using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>Offset of <c>d_reclen</c> in <c>struct linux_dirent64</c> (d_ino 8, d_off 8).</summary>
        public const int Dirent64RecLenOffset = 16;

        /// <summary>Offset of <c>d_name</c> in <c>struct linux_dirent64</c> (d_ino 8, d_off 8, d_reclen 2, d_type 1).</summary>
        public const int Dirent64NameOffset = 19;

        /// <summary>
        /// <c>ssize_t getdents64(int fd, void *dirp, size_t count)</c> (glibc 2.30+): as many entries as fit, 0 at the end.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "getdents64", SetLastError = true)]
        public static unsafe partial nint GetDents64(int fd, byte* buffer, nuint count);
    }
}
