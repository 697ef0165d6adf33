using System.Runtime.InteropServices;

namespace AiFactory.Cli.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        public const int AT_FDCWD = -100;
        public const int AT_EMPTY_PATH = 0x1000;
        public const uint STATX_TYPE = 0x1;
        public const uint STATX_SIZE = 0x200;

        /// <summary>
        /// <c>int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf)</c> (glibc 2.28+).
        /// Unlike <c>struct stat</c>, <c>struct statx</c> has one layout on every architecture.
        /// </summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Statx(int dirFd, string path, int flags, uint mask, out StatxBuffer buffer);

        /// <summary>The fields of <c>struct statx</c> (linux/stat.h) we read; 256 bytes in all.</summary>
        [StructLayout(LayoutKind.Explicit, Size = 256)]
        public struct StatxBuffer
        {
            /// <summary><c>stx_mode</c>: the file type (<c>S_IFMT</c> bits) and permissions.</summary>
            [FieldOffset(28)]
            public ushort Mode;

            /// <summary><c>stx_size</c>: the length in bytes.</summary>
            [FieldOffset(40)]
            public ulong Size;
        }
    }
}
