using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        public const int SEEK_SET = 0;
        public const int SEEK_CUR = 1;

        /// <summary><c>off_t lseek(int fd, off_t offset, int whence)</c> (64-bit off_t).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "lseek64", SetLastError = true)]
        public static partial long LSeek(int fd, long offset, int whence);
    }
}
