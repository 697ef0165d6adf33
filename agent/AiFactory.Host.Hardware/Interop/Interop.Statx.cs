using System.Runtime.InteropServices;

namespace AiFactory.Host.Hardware.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        public const int AT_SYMLINK_NOFOLLOW = 0x100;
        public const int AT_EMPTY_PATH = 0x1000;
        public const uint STATX_TYPE = 0x1;
        public const uint STATX_MTIME = 0x40;
        public const uint STATX_CTIME = 0x80;
        public const uint STATX_INO = 0x100;
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
            [FieldOffset(28)]
            public ushort Mode;

            [FieldOffset(32)]
            public ulong Inode;

            /// <summary><c>stx_size</c>: the length in bytes (0 for most procfs files, 4096 for sysfs attributes).</summary>
            [FieldOffset(40)]
            public ulong Size;

            /// <summary><c>stx_ctime.tv_sec</c>: when the inode last changed (written, renamed, chmod).</summary>
            [FieldOffset(96)]
            public long ChangedSeconds;

            /// <summary><c>stx_ctime.tv_nsec</c>.</summary>
            [FieldOffset(104)]
            public uint ChangedNanoseconds;

            /// <summary><c>stx_mtime.tv_sec</c>: when the content was last written.</summary>
            [FieldOffset(112)]
            public long ModifiedSeconds;

            /// <summary><c>stx_mtime.tv_nsec</c>.</summary>
            [FieldOffset(120)]
            public uint ModifiedNanoseconds;

            [FieldOffset(136)]
            public uint DevMajor;

            [FieldOffset(140)]
            public uint DevMinor;
        }
    }
}
